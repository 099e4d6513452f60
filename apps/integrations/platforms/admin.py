"""Admin for platform accounts and metadata; secrets are write-only here too."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path

from apps.accounts.roles import Role, role_at_least
from apps.integrations import conf
from apps.integrations.platforms import linking, oauth, services
from apps.integrations.platforms.catalogue import CATALOGUE
from apps.integrations.platforms.models import AccountKind, PlatformAccount, PlatformMetadata
from castcore.admin_site import AuditedModelAdmin
from castcore.api.errors import ApiError
from castcore.api.fields import remember_url, unmasked_url
from castcore.api.filters import parse_id
from workers.ffmpeg.masking import mask_url


class PlatformAccountForm(forms.ModelForm):
    # Shown masked, as the API shows it; the masked form left as it is keeps the stored URL.
    ingest_url = forms.CharField(
        required=False,
        max_length=1024,
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 80}),
        help_text="rtmp://, rtmps:// or srt://; keys and passphrases in it are shown masked",
    )
    # Never rendered back into the page; empty keeps the stored key.
    stream_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="leave empty to keep the current key",
    )

    class Meta:
        model = PlatformAccount
        fields = ["name", "platform", "kind", "ingest_url", "stream_key"]

    def clean_stream_key(self) -> str:
        key: str = self.cleaned_data.get("stream_key") or ""
        return key or (self.instance.stream_key if self.instance.pk else "")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["ingest_url"] = mask_url(self.instance.ingest_url or "")

    def clean_ingest_url(self) -> str:
        stored = self.instance.ingest_url or ""
        try:
            url = unmasked_url(
                stored,
                self.cleaned_data.get("ingest_url") or "",
                shown=mask_url(stored),
                field="ingest_url",
                code="platform.masked_url",
            )
        except ApiError as exc:
            raise forms.ValidationError(
                "type the whole URL: the masked one keeps the stored URL only as it is shown",
                code=exc.code,
            ) from None
        remember_url(url)
        if url and services.ingest_url_problem(url):
            raise forms.ValidationError(services.ingest_url_problem(url) or "")
        return url


@admin.register(PlatformAccount)
class PlatformAccountAdmin(AuditedModelAdmin):
    form = PlatformAccountForm
    list_display = [
        "name", "platform", "kind", "status", "masked_stream_key", "external_name",
        "token_expires_at", "last_test_code",
    ]  # fmt: skip
    list_filter = ["platform", "kind", "status"]
    readonly_fields = [
        "status", "external_id", "external_name", "token_expires_at", "scopes",
        "last_test_code", "last_tested_at", "created_by",
    ]  # fmt: skip
    actions = ["test_accounts", "revoke_accounts"]

    def get_urls(self) -> list[URLPattern]:
        link = path(
            "link/<str:platform>/",
            self.admin_site.admin_view(self.link_view),
            name="integrations_platformaccount_link",
        )
        return [link, *super().get_urls()]

    def link_view(self, request: HttpRequest, platform: str) -> HttpResponse:
        """ "Link a … account": the OAuth flow, started with this admin's session; the
        callback comes back to the account's page."""
        if request.method != "POST":  # a form with the CSRF token starts it, never a link
            return HttpResponseNotAllowed(["POST"])
        if not role_at_least(request.user, Role.ADMIN):
            raise PermissionDenied
        account = None
        raw_id = request.POST.get("account", "")
        if raw_id:
            account = get_object_or_404(PlatformAccount, pk=parse_id(raw_id) or 0)
        try:
            return linking.start_redirect(
                request,
                user=request.user,
                platform=platform,
                name="",
                account=account,
                return_to=linking.RETURN_TO_ADMIN,
            )
        except ApiError as exc:
            self.message_user(request, f"Cannot link: {exc.code}", messages.ERROR)
            return HttpResponseRedirect(linking.accounts_page())

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        links = [
            {"name": p.name, "url": linking.admin_link_url(p.type.value)}
            for p in CATALOGUE
            if p.oauth and conf.PLATFORM_OAUTH.get(p.type.value, {}).get("client_id")
        ]
        return super().changelist_view(request, {**(extra_context or {}), "oauth_links": links})

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        account = PlatformAccount.objects.filter(pk=parse_id(object_id) or 0).first()
        relink = ""
        if account is not None and account.kind == AccountKind.OAUTH:
            relink = linking.admin_link_url(account.platform)
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "relink_url": relink}
        )

    @admin.action(description="Test credentials against the platform")
    def test_accounts(self, request: HttpRequest, queryset: QuerySet[PlatformAccount]) -> None:
        for account in queryset:
            code = services.platform_account_test(account=account)
            self.message_user(request, f"{account}: {code}", messages.INFO)

    @admin.action(description="Revoke (unlink)")
    def revoke_accounts(self, request: HttpRequest, queryset: QuerySet[PlatformAccount]) -> None:
        for account in queryset:
            oauth.account_revoke(actor=request.user, account=account, request=request)
        self.message_user(request, f"{queryset.count()} revoked", messages.SUCCESS)


@admin.register(PlatformMetadata)
class PlatformMetadataAdmin(AuditedModelAdmin):
    list_display = ["job", "platform", "title", "privacy", "updated_at"]
    list_filter = ["platform"]
