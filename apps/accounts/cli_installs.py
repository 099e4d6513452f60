"""asciinema CLI install IDs: authenticate, temporary accounts, claim, list, revoke.

An install ID is a password (HTTP Basic, as the CLI sends it): only its
SHA-256 is stored, with the last four characters to tell installs apart. It
is never logged; the one place it is shown is the user's own /connect URL.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.accounts.models import CliInstall, User
from apps.accounts.roles import Role
from apps.accounts.services import hash_secret
from castcore.api.authentication import basic_credentials
from castcore.secrets import remember_matched

# How often last_used_at is written (not on every request).
TOUCH_INTERVAL = timedelta(minutes=1)
# What the CLI writes to its install-id file (a UUID, lowercase hex). asciinema-server
# refuses anything else with 401; so does CastCore, or any string would make an account.
_INSTALL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_plausible_install_id(raw: str) -> bool:
    """A lowercase UUID, as the asciinema CLI generates; anything else is refused."""
    return _INSTALL_ID.fullmatch(raw) is not None


def install_id_from_basic(header: str | bytes) -> str | None:
    """The password of an `Authorization: Basic …` header, or None if it is not one."""
    credentials = basic_credentials(header)
    if credentials is None or not is_plausible_install_id(credentials[1]):
        return None
    return credentials[1]  # registered for redaction once it names an install


def cli_install_find(raw_install_id: str) -> CliInstall | None:
    return (
        CliInstall.objects.select_related("user")
        .filter(install_id_hash=hash_secret(raw_install_id))
        .first()
    )


def _touch(install: CliInstall, user_agent: str) -> None:
    now = timezone.now()
    if install.last_used_at is None or now - install.last_used_at > TOUCH_INTERVAL:
        CliInstall.objects.filter(pk=install.pk).update(
            last_used_at=now, user_agent=user_agent[:255]
        )


@transaction.atomic
def _create_temporary(raw_install_id: str, user_agent: str) -> CliInstall:
    user = User(username=f"tmp-{secrets.token_hex(8)}", role=Role.VIEWER, is_temporary=True)
    user.set_unusable_password()
    user.save()
    install = CliInstall.objects.create(
        user=user,
        install_id_hash=hash_secret(raw_install_id),
        last4=raw_install_id[-4:],
        user_agent=user_agent[:255],
        last_used_at=timezone.now(),
    )
    audit_record(actor=None, action="cli_install.create_temporary", target=install, source="system")
    return install


def cli_install_authenticate(
    *, raw_install_id: str, user_agent: str = "", create_temporary: bool = False
) -> CliInstall | None:
    """The usable install behind an ID, or None (unknown, revoked, inactive user).

    With `create_temporary`, an unknown ID gets a new temporary account (what
    an upload from a never-linked CLI does).
    """
    install = cli_install_find(raw_install_id)
    if install is None and create_temporary:
        try:
            install = _create_temporary(raw_install_id, user_agent)
        except IntegrityError:  # the same CLI raced itself
            install = cli_install_find(raw_install_id)
    remember_matched(raw_install_id, install)
    if install is None or install.revoked_at is not None or not install.user.is_active:
        return None
    _touch(install, user_agent)
    return install


class ClaimError(Exception):
    """Why an install cannot be linked: `code` is machine-readable."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class ClaimResult:
    install: CliInstall
    recordings_moved: int
    streams_moved: int
    already_linked: bool = False


def cli_install_claim(
    *, user: User, raw_install_id: str, request: HttpRequest | None = None
) -> ClaimResult:
    """Link a CLI to `user`: its temporary account's recordings and streams move over.

    All in one transaction: the rows change owner, hidden recordings come
    back, the install points at the user, and the temporary account goes.
    """
    from apps.recordings.models import Recording, TerminalStream

    if user.is_temporary or not user.is_active:
        raise ClaimError("cli_install.user_not_eligible")
    if not is_plausible_install_id(raw_install_id):
        raise ClaimError("cli_install.invalid")
    with transaction.atomic():
        install = (
            CliInstall.objects.select_for_update()
            .select_related("user")
            .filter(install_id_hash=hash_secret(raw_install_id))
            .first()
        )
        if install is None:
            install = CliInstall.objects.create(
                user=user, install_id_hash=hash_secret(raw_install_id), last4=raw_install_id[-4:]
            )
            audit_record(actor=user, action="cli_install.link", target=install, request=request)
            return ClaimResult(install, 0, 0)
        if install.revoked_at is not None:
            raise ClaimError("cli_install.revoked")
        if install.user_id == user.pk:
            return ClaimResult(install, 0, 0, already_linked=True)
        previous = install.user
        if not previous.is_temporary:
            raise ClaimError("cli_install.linked_to_other_user")
        recordings = Recording.objects.filter(owner=previous).update(owner=user, hidden_at=None)
        streams = TerminalStream.objects.filter(owner=previous).update(owner=user)
        install.user = user
        install.save(update_fields=["user"])
        CliInstall.objects.filter(user=previous).update(user=user)
        previous.delete()
        audit_record(
            actor=user,
            action="cli_install.claim",
            target=install,
            changes={"recordings_moved": [0, recordings], "streams_moved": [0, streams]},
            request=request,
        )
    return ClaimResult(install, recordings, streams)


def cli_installs_for(user: Any) -> QuerySet[CliInstall]:
    """Installs a user sees: their own; Admins see all."""
    queryset = CliInstall.objects.select_related("user")
    if getattr(user, "role", None) == Role.ADMIN:
        return queryset
    return queryset.filter(user_id=user.pk)


def cli_install_revoke(
    *,
    install: CliInstall,
    actor: Any,
    request: HttpRequest | None = None,
    source: str | None = None,
) -> bool:
    """Refuse this install ID from now on (the row stays, for the record).

    Returns False if it was revoked already (nothing changes, nothing is audited).
    """
    with transaction.atomic():
        changed = CliInstall.objects.filter(pk=install.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        install.refresh_from_db()
        if changed == 1:
            audit_record(
                actor=actor,
                action="cli_install.revoke",
                target=install,
                request=request,
                source=source,
            )
    return changed == 1
