"""Owncast's three credentials, on CastCore's own secrets.

- Admin (`/api/admin/*`): HTTP Basic `admin:<the stream's ingest key>`. The key is
  compared through its digest (LiveStream.ingest_key_digest), in constant time; a
  revoked key (no digest) lets nobody in. Refused: 401 `Unauthorized` with
  `WWW-Authenticate: Basic realm="Owncast Authenticated Request"`, as Owncast answers.
- Integrations (`/api/integrations/*`): `Authorization: Bearer <token>`, an access
  token of the integrations app (apps.integrations.tokens), with Owncast's scopes
  mapped onto CastCore's (OWNCAST_SCOPES, the one mapping, both directions). A token
  missing the scope, or bound to another stream (models.TokenLink), gets 401
  `unauthorized`, as Owncast answers.
- Chat users (`/api/chat`, `/ws`): `?accessToken=`, the token of a chat identity
  (apps.chat: `/api/chat/register` gives one).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.chat import selectors as chat_selectors
from apps.chat.models import ChatIdentity
from apps.integrations.authentication import IntegrationPrincipal
from apps.integrations.models import IntegrationToken, Scope
from apps.streams.models import LiveStream
from castcore.api.authentication import Principal, basic_credentials
from castcore.api.schema import security_scheme
from castcore.api.throttling import ClientFailureThrottle
from castcore.secrets import remember, remember_matched

ADMIN_USER = "admin"
ADMIN_REALM = "Owncast Authenticated Request"

CAN_SEND_MESSAGES = "CAN_SEND_MESSAGES"
CAN_SEND_SYSTEM_MESSAGES = "CAN_SEND_SYSTEM_MESSAGES"
HAS_ADMIN_ACCESS = "HAS_ADMIN_ACCESS"

#: Owncast's scopes and the CastCore scopes each grants. A token holds an Owncast scope
#: when it holds the first of them (what the check asks for); making a token with an
#: Owncast scope grants them all (an Owncast admin token also moderates chat).
OWNCAST_SCOPES: dict[str, tuple[str, ...]] = {
    CAN_SEND_MESSAGES: (Scope.CHAT_SEND,),
    CAN_SEND_SYSTEM_MESSAGES: (Scope.CHAT_SYSTEM,),
    HAS_ADMIN_ACCESS: (Scope.STREAM_ADMIN, Scope.MODERATE),
}


def castcore_scopes(owncast: Iterable[str]) -> list[str]:
    """The CastCore scopes for Owncast scope names; ValueError names an unknown one."""
    granted: set[str] = set()
    for name in owncast:
        if name not in OWNCAST_SCOPES:
            raise ValueError(name)
        granted.update(OWNCAST_SCOPES[name])
    return sorted(granted)


def owncast_scopes(scopes: Iterable[str]) -> list[str]:
    """The Owncast scope names a token with these CastCore scopes holds, in Owncast's order."""
    held = set(scopes)
    return [name for name, mapped in OWNCAST_SCOPES.items() if mapped[0] in held]


def token_has_scope(token: IntegrationToken, owncast_scope: str) -> bool:
    return token.has_scope(OWNCAST_SCOPES[owncast_scope][0])


def token_allows_stream(token: IntegrationToken, stream: LiveStream) -> bool:
    """Whether `token` works on `stream`'s base (models.TokenLink: unbound, or bound to it)."""
    from apps.owncast.models import TokenLink

    link = TokenLink.objects.filter(token=token).first()
    return link is None or link.allows(stream.pk)


def admin_key_matches(stream: LiveStream, password: str) -> bool:
    """Whether `password` is the stream's ingest key (constant time; revoked: never)."""
    if not stream.ingest_key_digest:
        return False
    digest = hashlib.sha256(password.encode()).hexdigest()
    return hmac.compare_digest(digest, stream.ingest_key_digest)


class OwncastAdmin(Principal):
    """Who a request with a stream's key is: that stream's Owncast admin (no account)."""

    def __init__(self, stream: LiveStream) -> None:
        super().__init__(f"owncast-admin:{stream.slug}")
        self.stream = stream


def _view_stream(request: Request) -> LiveStream | None:
    view = request.parser_context.get("view") if request.parser_context else None
    resolve = getattr(view, "stream_or_none", None)
    return resolve() if resolve is not None else None


#: The throttle scope (DEFAULT_THROTTLE_RATES) of wrong admin keys, per client address.
ADMIN_FAILURES_SCOPE = "owncast_admin_failures"


class OwncastAdminAuthentication(BaseAuthentication):
    """`Authorization: Basic admin:<key>` against the stream of the request's base.

    `request.auth` is that LiveStream. A stream that does not exist matches no key: 401,
    as a wrong key is (the path's slug is not told apart from a bad password).
    """

    def authenticate(self, request: Request) -> tuple[OwncastAdmin, LiveStream] | None:
        credentials = basic_credentials(get_authorization_header(request))
        if credentials is None:
            return None
        user, password = credentials
        # Checked before the key: a locked-out address learns nothing from a right guess.
        failures = ClientFailureThrottle(ADMIN_FAILURES_SCOPE)
        wait = failures.wait_before(request)
        if wait is not None:
            raise exceptions.Throttled(wait)
        stream = _view_stream(request)
        user_ok = hmac.compare_digest(user.encode(), ADMIN_USER.encode())
        if stream is None or not (admin_key_matches(stream, password) and user_ok):
            failures.record_failure(request)
            raise exceptions.AuthenticationFailed(code="auth.owncast_admin")
        remember(password)  # only now: see remember_matched
        return OwncastAdmin(stream), stream

    def authenticate_header(self, request: Request) -> str:
        return f'Basic realm="{ADMIN_REALM}"'


def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer …` (any case of the scheme, as Owncast reads it)."""
    header = get_authorization_header(request)
    if header[:7].lower() != b"bearer ":
        return ""
    try:
        return header[7:].decode().strip()
    except UnicodeDecodeError:
        return ""


class OwncastTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <integration token>`; `request.auth` is the IntegrationToken."""

    def authenticate(self, request: Request) -> tuple[IntegrationPrincipal, IntegrationToken]:
        from apps.integrations.tokens import integration_token_authenticate

        raw = bearer_token(request)
        token = integration_token_authenticate(raw) if raw else None
        if token is None:
            raise exceptions.AuthenticationFailed(code="auth.token_invalid")
        return IntegrationPrincipal(token), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="owncast"'


def requires_owncast_scope(owncast_scope: str) -> type[BasePermission]:
    """A permission: the token holds `owncast_scope` and may act on the view's stream.

    Refused with 401 (AuthenticationFailed), as Owncast answers a token without the scope.
    """

    class HasOwncastScope(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            token = request.auth
            if not isinstance(token, IntegrationToken) or not token_has_scope(token, owncast_scope):
                raise exceptions.AuthenticationFailed(code="auth.token_scope")
            stream = view.stream_or_none()
            if stream is not None and not token_allows_stream(token, stream):
                raise exceptions.AuthenticationFailed(code="auth.token_stream")
            return True

    HasOwncastScope.__name__ = f"HasOwncastScope_{owncast_scope}"
    return HasOwncastScope


class ChatUser(Principal):
    """A chat identity holding its access token: Owncast's chat user (no account)."""

    def __init__(self, identity: ChatIdentity) -> None:
        super().__init__(f"chat:{identity.pk}")
        self.identity = identity


def chat_identity_for_token(raw: str) -> ChatIdentity | None:
    """The chat identity an Owncast `accessToken` names: an anonymous one's token."""
    if not raw:
        return None
    return remember_matched(raw, chat_selectors.identity_by_token(raw))


class OwncastUserTokenAuthentication(BaseAuthentication):
    """`?accessToken=<chat token>`; `request.auth` is the ChatIdentity."""

    def authenticate(self, request: Request) -> tuple[ChatUser, ChatIdentity]:
        identity = chat_identity_for_token(request.query_params.get("accessToken", ""))
        if identity is None:
            raise exceptions.AuthenticationFailed(code="auth.chat_token_invalid")
        return ChatUser(identity), identity

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="owncast-chat"'


# Owncast's names for its security schemes, as its API document gives them.
security_scheme(
    "apps.owncast.auth.OwncastAdminAuthentication",
    "AdminBasicAuth",
    {
        "type": "http",
        "scheme": "basic",
        "description": "Owncast admin: user `admin`, the stream's ingest key as the password.",
    },
)
security_scheme(
    "apps.owncast.auth.OwncastTokenAuthentication",
    "AccessToken",
    {
        "type": "http",
        "scheme": "bearer",
        "description": "Owncast integrations: an integration access token (`cci_…`) with "
        "Owncast's scope for the operation.",
    },
)
security_scheme(
    "apps.owncast.auth.OwncastUserTokenAuthentication",
    "UserToken",
    {
        "type": "apiKey",
        "in": "query",
        "name": "accessToken",
        "description": "Owncast chat user: the access token of POST /api/chat/register.",
    },
)
