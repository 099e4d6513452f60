from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.cli_installs import cli_install_revoke
from apps.accounts.models import ApiToken, AuditEntry, CliInstall, User, UserPreferences
from castcore.admin_site import AuditedModelAdmin
from castcore.secrets import mask


@admin.register(User)
class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    list_display = ["username", "email", "role", "is_active", "is_temporary", "last_login"]
    list_filter = ["role", "is_active", "is_temporary"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("role", "is_active", "is_superuser", "is_temporary")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "role", "password1", "password2")}),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedModelAdmin):
    list_display = [
        "name",
        "user",
        "masked",
        "read_only",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["read_only"]
    readonly_fields = ["masked", "created_at", "last_used_at"]
    fields = [
        "user",
        "name",
        "masked",
        "read_only",
        "expires_at",
        "revoked_at",
        "created_at",
        "last_used_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens are minted by their owner through the API, where the one-time value is shown.
        return False


@admin.register(CliInstall)
class CliInstallAdmin(AuditedModelAdmin):
    """asciinema CLI installs: read-only rows, revoked with the action (never edited or deleted).

    Moving an install to another user would hand them a credential and its
    recordings; deleting one would let its ID come back as a new temporary
    account. Revoking keeps the row and refuses the ID.
    """

    list_display = [
        "install_id", "user", "linked", "active", "user_agent", "created_at", "last_used_at",
        "revoked_at",
    ]  # fmt: skip
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "user__is_temporary"]
    list_select_related = ["user"]
    search_fields = ["user__username", "last4", "user_agent"]
    readonly_fields = (
        "install_id", "user", "linked", "active", "user_agent", "created_at", "last_used_at",
        "revoked_at",
    )  # fmt: skip
    fields = readonly_fields
    actions = ["revoke"]

    @admin.display(description="Install ID", ordering="last4")
    def install_id(self, obj: CliInstall) -> str:
        return mask("x" * 8 + obj.last4)  # only the last four are stored

    @admin.display(boolean=True, description="Linked to an account")
    def linked(self, obj: CliInstall) -> bool:
        return not obj.user.is_temporary

    @admin.display(boolean=True, description="Active", ordering="revoked_at")
    def active(self, obj: CliInstall) -> bool:
        return obj.revoked_at is None

    @admin.action(description="Revoke the selected CLI installs", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[CliInstall]) -> None:
        revoked = [
            install
            for install in queryset
            if cli_install_revoke(
                install=install,
                actor=request.user,
                request=request,
                source=AuditEntry.Source.ADMIN,
            )
        ]
        skipped = queryset.count() - len(revoked)
        message = f"Revoked {len(revoked)} CLI install(s)."
        if skipped:
            message += f" {skipped} already revoked."
        self.message_user(request, message, messages.SUCCESS)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return super().has_change_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the CLI creates installs

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UserPreferences)
class UserPreferencesAdmin(AuditedModelAdmin):
    list_display = ["user", "language", "timezone", "theme"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit log is never edited, not even by Admins."""

    list_display = [
        "created_at",
        "actor_repr",
        "action",
        "target_type",
        "target_id",
        "ip",
        "source",
    ]
    list_filter = ["source", "action"]
    search_fields = ["actor_repr", "action", "target_repr", "target_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
