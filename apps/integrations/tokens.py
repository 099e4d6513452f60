"""Integration access tokens: issued once in clear, kept as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.integrations.models import INTEGRATION_TOKEN_PREFIX, IntegrationToken
from castcore.api.errors import ApiError
from castcore.secrets import remember, remember_matched

#: last_used_at is written at most this often per token (not a write per request).
TOUCH_INTERVAL = timedelta(seconds=60)


def _hash(raw: str) -> str:
    # The token is 256 random bits: a plain SHA-256 is enough to look it up and useless to a thief.
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedIntegrationToken:
    token: IntegrationToken
    raw: str


def integration_token_create(
    *,
    actor: Any,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    keep_value: bool = False,
    request: HttpRequest | None = None,
) -> IssuedIntegrationToken:
    """A new token, returned in clear this once. `keep_value`: its value is also stored,
    encrypted (IntegrationToken.kept_value), for the Owncast admin API's list."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiError("validation.expires_in_past", {"field": "expires_at"})
    raw = INTEGRATION_TOKEN_PREFIX + secrets.token_urlsafe(32)
    remember(raw)
    token = IntegrationToken.objects.create(
        name=name,
        scopes=sorted(set(scopes)),
        token_hash=_hash(raw),
        last4=raw[-4:],
        kept_value=raw if keep_value else "",
        expires_at=expires_at,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="integration_token.create",
        target=token,
        changes={"name": [None, name], "scopes": [None, token.scopes]},
        request=request,
    )
    return IssuedIntegrationToken(token=token, raw=raw)


def integration_token_revoke(
    *, actor: Any, token: IntegrationToken, request: HttpRequest | None = None
) -> IntegrationToken:
    # Revoking twice is a no-op: the outcome the caller wants holds.
    IntegrationToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db()
    audit_record(actor=actor, action="integration_token.revoke", target=token, request=request)
    return token


def integration_token_find(raw: str) -> IntegrationToken | None:
    """The token whose value is `raw`, revoked or not, without counting it as a use (to
    name a token to revoke by its value, as Owncast's admin API does)."""
    if not raw.startswith(INTEGRATION_TOKEN_PREFIX):
        return None
    return remember_matched(raw, IntegrationToken.objects.filter(token_hash=_hash(raw)).first())


def integration_token_authenticate(raw: str) -> IntegrationToken | None:
    """The usable token for a raw `cci_…` value (its last use recorded), or None."""
    if not raw.startswith(INTEGRATION_TOKEN_PREFIX):
        return None
    token = remember_matched(raw, IntegrationToken.objects.filter(token_hash=_hash(raw)).first())
    if token is None or not token.is_usable():
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_INTERVAL:
        IntegrationToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def integration_token_chat_identity(token: IntegrationToken) -> Any:
    """The chat identity `token` writes under, named after the token, made on first use.

    It is an identity with no user and a chat token no one holds (the integration
    authenticates with its own token), so the chat's rules apply to it as to anyone.
    """
    from apps.chat.services import ChatError, identity_register

    with transaction.atomic():
        # One identity per token, however many first messages arrive at once.
        locked = IntegrationToken.objects.select_for_update().get(pk=token.pk)
        if locked.chat_identity is None:
            try:
                identity, _ = identity_register(display_name=locked.name)
            except ChatError:  # a name chat refuses: it gets a generated one
                identity, _ = identity_register()
            locked.chat_identity = identity
            locked.save(update_fields=["chat_identity"])
    return locked.chat_identity
