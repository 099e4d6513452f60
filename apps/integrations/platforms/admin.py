"""Admin for platform accounts and metadata; secrets are write-only here too."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.integrations.platforms import oauth, services
from apps.integrations.platforms.models import PlatformAccount, PlatformMetadata
from castcore.admin_site import AuditedModelAdmin


class PlatformAccountForm(forms.ModelForm):
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

    def clean_ingest_url(self) -> str:
        url: str = self.cleaned_data.get("ingest_url") or ""
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
