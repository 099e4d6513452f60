"""The base viewset every native resource builds on.

It brings RBAC (castcore.api.permissions), pagination and filtering from the
REST_FRAMEWORK settings, a `restrict()` hook that narrows the queryset to
what the user may see (so list, detail and filters agree), and the audit
trail of create/update/destroy with the changed fields, secrets masked.
Writes with side effects belong in services: override perform_* to call one.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers, viewsets
from rest_framework.request import Request

from apps.accounts.audit import audit_record, audit_shown, diff_changes, snapshot
from apps.accounts.roles import Role
from castcore.api.fields import SecretField


def _secret_fields(serializer: serializers.BaseSerializer[Any]) -> set[str]:
    fields = getattr(serializer, "fields", {})
    return {name for name, field in fields.items() if isinstance(field, SecretField)}


def save_audited(
    serializer: serializers.BaseSerializer[Any], *, request: Request, action: str
) -> Any:
    """Save a validated serializer and record what changed in the audit log."""
    fields = list(serializer.validated_data.keys())
    before = snapshot(serializer.instance, fields) if serializer.instance is not None else {}
    instance = serializer.save()
    audit_record(
        actor=request.user,
        action=action,
        target=instance,
        changes=diff_changes(
            before,
            snapshot(instance, fields),
            secret_fields=_secret_fields(serializer),
            shown=audit_shown(instance),
        ),
        request=request,
    )
    return instance


class CastCoreViewSet(viewsets.ModelViewSet):
    read_role = Role.VIEWER
    write_role = Role.OPERATOR
    action_roles: dict[str, Role] = {}
    # "<area>" in audit actions such as "stream_job.update"; defaults to the model name.
    audit_area: str = ""

    def restrict(self, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
        """Narrow the queryset to the rows this user may see (default: all)."""
        return queryset

    def get_queryset(self) -> models.QuerySet[Any]:
        return self.restrict(super().get_queryset())

    def filter_queryset(self, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
        # Filters and ordering narrow lists. A detail route names its row by id: the
        # filter set built for it (a millisecond and more on every start or stop)
        # changed nothing, or turned a stray query parameter into a 404.
        if self.detail:
            return queryset
        return super().filter_queryset(queryset)

    def _area(self) -> str:
        return self.audit_area or self.get_queryset().model._meta.model_name or "object"

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        save_audited(serializer, request=self.request, action=f"{self._area()}.create")

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        save_audited(serializer, request=self.request, action=f"{self._area()}.update")

    def perform_destroy(self, instance: models.Model) -> None:
        audit_record(
            actor=self.request.user,
            action=f"{self._area()}.delete",
            target=instance,
            request=self.request,
        )
        instance.delete()
