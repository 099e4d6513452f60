from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from apps.integrations import notify, tokens, webhooks
from apps.integrations.api.serializers import check_webhook_address
from apps.integrations.http import url_problem
from apps.integrations.models import (
    IntegrationToken,
    NotificationMessage,
    NotificationTarget,
    Scope,
    Webhook,
    WebhookDelivery,
)
from apps.integrations.signing import new_secret, secret_key
from castcore.admin_site import AuditedModelAdmin
from castcore.api.errors import ApiError
from castcore.outbox.models import OutboxEvent


class WebhookForm(forms.ModelForm):
    # Write-only like the secret: the page shows where it points (scheme, host, port),
    # never the path or query a receiver's token sits in. Empty keeps the stored URL.
    url = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    # Never rendered back into the page; empty keeps the stored secret (or makes one).
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="whsec_…; leave empty to keep the current one (a new webhook gets one made)",
    )

    class Meta:
        model = Webhook
        fields = ["name", "url", "events", "secret", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["url"] = ""
        if self.instance.pk:
            self.fields[
                "url"
            ].help_text = (
                f"now {self.instance.shown_url}; leave empty to keep it, or type the whole new URL"
            )

    def clean_url(self) -> str:
        url: str = self.cleaned_data.get("url") or ""
        if not url:
            if self.instance.pk:
                return str(self.instance.url)
            raise forms.ValidationError("a webhook needs a URL")
        problem = url_problem(url)
        if problem is not None:
            raise forms.ValidationError(problem)
        try:
            check_webhook_address(url)
        except ApiError as exc:
            raise forms.ValidationError(f"{exc.code}: {exc.params.get('reason')}") from None
        return url

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data.get("secret") or ""
        if not secret:
            return self.instance.secret if self.instance.pk else new_secret()
        try:
            secret_key(secret)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return secret


@admin.register(Webhook)
class WebhookAdmin(AuditedModelAdmin):
    form = WebhookForm
    list_display = ["name", "active", "disabled_reason", "consecutive_failures", "last_success_at"]
    list_filter = ["active"]
    search_fields = ["name"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(AuditedModelAdmin):
    list_display = ["id", "webhook", "event", "state", "attempts", "status_code", "next_attempt_at"]
    list_filter = ["state", "webhook"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["redeliver"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Deliver again now")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued = 0
        for delivery in queryset:
            try:
                webhooks.delivery_redeliver(actor=request.user, delivery=delivery, request=request)
            except ApiError as exc:  # webhook switched off, an attempt under way
                self.message_user(request, f"{delivery}: {exc.code}", messages.WARNING)
            else:
                queued += 1
        self.message_user(request, f"{queued} queued", messages.SUCCESS)


class NotificationTargetForm(forms.ModelForm):
    url = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="apprise URL; leave empty to keep the current one",
    )

    class Meta:
        model = NotificationTarget
        fields = ["name", "url", "events", "min_level", "active"]

    def clean_url(self) -> str:
        url: str = self.cleaned_data.get("url") or ""
        if not url and self.instance.pk:
            return self.instance.url
        if not url or not notify.target_url_valid(url):
            raise forms.ValidationError("not an apprise URL or mailto: addresses")
        return url


@admin.register(NotificationTarget)
class NotificationTargetAdmin(AuditedModelAdmin):
    form = NotificationTargetForm
    list_display = ["name", "masked_url", "min_level", "active"]
    list_filter = ["active", "min_level"]
    actions = ["send_test"]

    @admin.action(description="Send a test notification")
    def send_test(self, request: HttpRequest, queryset: QuerySet[NotificationTarget]) -> None:
        for target in queryset:
            result = notify.target_test(target=target)
            if result.ok:
                self.message_user(request, f"{target.name}: sent", messages.SUCCESS)
            else:
                self.message_user(request, f"{target.name}: {result.error_code}", messages.ERROR)


@admin.register(NotificationMessage)
class NotificationMessageAdmin(AuditedModelAdmin):
    list_display = ["title", "target", "count", "state", "send_at", "sent_at", "error_code"]
    list_filter = ["state"]
    readonly_fields = [f.name for f in NotificationMessage._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class IntegrationTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = IntegrationToken
        fields = ["name", "scopes", "expires_at"]

    def clean_expires_at(self) -> datetime | None:
        expires_at: datetime | None = self.cleaned_data.get("expires_at")
        if (
            expires_at is not None
            and expires_at <= timezone.now()
            and "expires_at" in self.changed_data
        ):
            raise forms.ValidationError("must be in the future")
        return expires_at


@admin.register(IntegrationToken)
class IntegrationTokenAdmin(AuditedModelAdmin):
    """Issued here or through the API: the token is shown once, on the page after Save."""

    form = IntegrationTokenForm
    list_display = ["name", "masked", "scopes", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    readonly_fields = ["masked", "last_used_at", "revoked_at", "created_by", "created_at"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Issued by the service (hashed, audited); the page after Save shows it once.
        issued = tokens.integration_token_create(
            actor=request.user,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
            request=request,
        )
        obj.pk = issued.token.pk
        obj._state.adding = False
        obj.issued_raw = issued.raw

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        raw = getattr(obj, "issued_raw", "")
        if not raw:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Access token issued",
            "token": IntegrationToken.objects.get(pk=obj.pk),
            "raw": raw,
        }
        # The admin's views are never_cache (no-store): the one page that holds it is not kept.
        return TemplateResponse(request, "admin/integrations/integrationtoken/issued.html", context)

    @admin.action(description="Revoke")
    def revoke(self, request: HttpRequest, queryset: QuerySet[IntegrationToken]) -> None:
        for token in queryset:
            tokens.integration_token_revoke(actor=request.user, token=token, request=request)
        self.message_user(request, f"{queryset.count()} revoked", messages.SUCCESS)


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ["event_type", "level", "subject", "created_at", "dispatched_at"]
    list_filter = ["event_type", "level"]
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


from apps.integrations.platforms import admin as platforms_admin  # noqa: E402, F401  (registers)
