"""The audit log's one writer. Every mutating path calls `audit_record`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.http import HttpRequest

from apps.accounts.models import AuditEntry
from castcore.client_ip import client_ip as castcore_client_ip
from castcore.secrets import is_secret_name, mask

_AUDITED_FLAG = "_castcore_audited"


@dataclass(frozen=True)
class CommandActor:
    """Who runs a manage.py command: an account (`--as`), else the Unix user's name."""

    user: Any
    name: str


# Set for the length of a manage.py command, so that every service it calls
# audits with source `cli` and the acting account without being told.
_command_actor: ContextVar[CommandActor | None] = ContextVar("castcore_command_actor", default=None)


@contextlib.contextmanager
def acting_from_command(actor: CommandActor) -> Iterator[None]:
    token = _command_actor.set(actor)
    try:
        yield
    finally:
        _command_actor.reset(token)


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        return [_plain(item) for item in value]
    # Round-trip through JSON so dates, UUIDs and decimals are stored as text.
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


#: How a field holding a secret is shown in the audit log: its masked form, from the text.
ShownAs = Callable[[str], str]


def audit_shown(model: type[models.Model] | models.Model | None) -> Mapping[str, ShownAs]:
    """The fields `model` declares secret, with how each is shown (`AUDIT_SHOWN` on the
    model): the one rule the API's and the admin's audit entries both follow."""
    return getattr(model, "AUDIT_SHOWN", {}) if model is not None else {}


def _safe(
    field: str, value: Any, secret_fields: Iterable[str], shown: Mapping[str, ShownAs]
) -> Any:
    if field in shown:
        return shown[field](str(value)) if value not in (None, "") else ""
    if field in secret_fields or is_secret_name(field):
        return mask(str(value)) if value not in (None, "") else ""
    return _plain(value)


def diff_changes(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    secret_fields: Iterable[str] = (),
    shown: Mapping[str, ShownAs] | None = None,
) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for fields whose value changed, secrets masked: those in
    `shown` as it says (a URL that still tells where it points), others as `••••1234`."""
    secret_fields = set(secret_fields)
    shown = shown or {}
    changes: dict[str, list[Any]] = {}
    for field, new in after.items():
        old = before.get(field)
        if _plain(old) != _plain(new):
            changes[field] = [
                _safe(field, old, secret_fields, shown),
                _safe(field, new, secret_fields, shown),
            ]
    return changes


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {field: getattr(instance, field, None) for field in fields}


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # django-axes may have resolved it already, with the same rule (AXES_CLIENT_IP_CALLABLE).
    return getattr(request, "axes_ip_address", None) or castcore_client_ip(
        getattr(request, "_request", request)
    )


def mark_audited(request: HttpRequest | None) -> None:
    """Tell AuditMiddleware this request's mutation has its own, richer entry."""
    if request is not None:
        setattr(getattr(request, "_request", request), _AUDITED_FLAG, True)


def is_audited(request: HttpRequest) -> bool:
    return bool(getattr(request, _AUDITED_FLAG, False))


def update_audited(
    instance: models.Model,
    fields: Mapping[str, Any],
    *,
    actor: Any,
    action: str,
    request: HttpRequest | None = None,
    also_save: Iterable[str] = (),
    extra_changes: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> dict[str, list[Any]]:
    """Set `fields` on `instance`, save them and audit what changed, in one transaction.

    `also_save` names columns the model changes itself (e.g. `updated_at`);
    `extra_changes` adds entries the caller computed (e.g. a masked password).
    """
    before = snapshot(instance, fields)
    for name, value in fields.items():
        setattr(instance, name, value)
    with transaction.atomic():
        instance.save(update_fields=[*fields, *also_save] if fields else None)
        changes = {**diff_changes(before, snapshot(instance, fields)), **(extra_changes or {})}
        audit_record(
            actor=actor,
            action=action,
            target=instance,
            changes=changes,
            request=request,
            source=source,
        )
    return changes


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    changes: Mapping[str, Any] | None = None,
    request: HttpRequest | None = None,
    source: str | None = None,
) -> AuditEntry:
    """One audit entry. `source` defaults to `cli` inside a manage.py command, else `api`."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    command = _command_actor.get()
    if command is not None:
        source = source or AuditEntry.Source.CLI
        actor = actor if actor is not None else command.user
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    if authenticated:
        actor_repr = actor.get_username()
    else:
        actor_repr = command.name if command is not None else ""
    # An integration token authenticates as a principal that is no user row: it is
    # named (`integration:<name>`), not linked.
    linked = authenticated and isinstance(getattr(actor, "pk", None), int)
    entry = AuditEntry.objects.create(
        actor=actor if linked else None,
        actor_repr=actor_repr,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=str(target)[:200] if target is not None else "",
        ip=client_ip(getattr(request, "_request", request)),
        source=source or AuditEntry.Source.API,
        changes=dict(changes or {}),
    )
    mark_audited(request)
    return entry
