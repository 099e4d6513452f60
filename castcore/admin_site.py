"""The Django admin: 2FA for users who enrolled, and an audit trail for every change."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import user_login_failed
from django.db.models import IntegerField, Model, QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.audit import audit_record, audit_shown, diff_changes
from apps.accounts.models import AuditEntry
from castcore.api.filters import MAX_ID


class OTPAdminLoginForm(AdminAuthenticationForm):
    """Password, plus a TOTP code for users who enrolled in two-factor."""

    otp_token = forms.CharField(
        label="Two-factor code",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="Only if you enrolled in two-factor authentication.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = self.get_user()
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() if user else None
        if device is None:
            return cleaned
        code = (cleaned.get("otp_token") or "").strip()
        if not code.isdigit() or not device.verify_token(code):
            user_login_failed.send(
                sender=type(user),
                credentials={"username": user.get_username()},
                request=self.request,
            )
            raise forms.ValidationError(
                "Enter the current code from your authenticator app.", code="otp_invalid"
            )
        # django-otp's user_logged_in receiver stores this device in the session.
        setattr(user, "otp_device", device)  # noqa: B010 (not a declared field)
        return cleaned


class CastCoreAdminSite(admin.AdminSite):
    site_header = "CastCore administration"
    site_title = "CastCore"
    login_form = OTPAdminLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        user: Any = request.user
        # Enrolled users must have passed the second factor in this session.
        return not user.has_2fa or user.is_verified()


def add_api_error(form: forms.BaseForm, exc: Any) -> None:
    """Show a service's check failure (an ApiError) on an admin form: under the field its
    params name, else above the form; the code stays readable, as in the API."""
    error = forms.ValidationError(f"{exc.code}: {exc.params}", code=exc.code)
    field = exc.params.get("field")
    form.add_error(field if field in form.fields else None, error)


def _form_changes(form: forms.ModelForm[Any], change: bool) -> dict[str, list[Any]]:
    fields = form.changed_data if change else list(form.cleaned_data)
    before = {name: form.initial.get(name) for name in fields} if change else {}
    after = {name: form.cleaned_data.get(name) for name in fields}
    return diff_changes(before, after, shown=audit_shown(form._meta.model))


class AuditedModelAdmin(admin.ModelAdmin):
    """Records every admin add, change, delete and action in the audit log."""

    def _audit(
        self,
        request: HttpRequest,
        action: str,
        obj: Model | None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        area = self.model._meta.model_name
        audit_record(
            actor=request.user,
            action=f"{area}.{action}",
            target=obj,
            target_type=self.model._meta.label_lower,
            changes=changes,
            request=request,
            source=AuditEntry.Source.ADMIN,
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        self._audit(request, "update" if change else "create", obj, _form_changes(form, change))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._audit(request, "delete", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self._audit(request, "delete", obj)
        super().delete_queryset(request, queryset)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        return {
            name: (self._audited_action(name, func), action_name, description)
            for name, action in actions.items()
            if action is not None
            for func, action_name, description in [action]
        }

    def _audited_action(self, name: str, func: Any) -> Any:
        if name == "delete_selected":
            return func  # delete_queryset records each deletion

        def run(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
            ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
            result = func(modeladmin, request, queryset)
            self._audit(request, f"action.{name}", None, {"ids": [None, ids]})
            return result

        run.__name__ = getattr(func, "__name__", name)
        return run


def _beyond_integer_key(model: type[Model], object_id: str) -> bool:
    """Whether `object_id` cannot be the integer key of `model` (past a BIGINT).

    Django bounds an id field's lookups itself, but not a key that is a one-to-one to
    another row's id: there a huge id was an OverflowError, a 500.
    """
    key = model._meta.pk
    target = getattr(key, "target_field", key)
    if not isinstance(target, IntegerField):
        return False
    return len(object_id) > 19 or (object_id.isdecimal() and int(object_id) > MAX_ID)


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Rows the product writes itself (samples, presence, claims): shown, never edited here."""

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        if from_field is None and _beyond_integer_key(self.model, object_id):
            return None
        return super().get_object(request, object_id, from_field)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
