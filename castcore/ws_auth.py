"""WebSocket authentication with the same credentials as the HTTP API, and refusals.

Clients that can set headers send `Authorization: Bearer …`; browsers, which
cannot, send `?token=…` in the query string. The token is resolved once in
connect(); consumers re-check permissions on every event they send.

Every refusal completes the handshake and then closes with a code (castcore.ws):
4401 not signed in, 4403 not allowed (a foreign Origin included), 4404 no such
socket or row.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from castcore.ws import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, refuse


def _raw_token(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            parts = value.decode("latin-1").split()
            if len(parts) == 2 and parts[0].lower() == "bearer":
                return parts[1]
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    tokens = query.get("token")
    return tokens[0] if tokens else None


@database_sync_to_async
def _user_for(raw: str) -> Any:
    from castcore.api.authentication import authenticate_bearer

    return authenticate_bearer(raw) or AnonymousUser()


class BearerAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        raw = _raw_token(scope)
        scope["user"] = await _user_for(raw) if raw else AnonymousUser()
        return await super().__call__(scope, receive, send)


class Refusal(AsyncWebsocketConsumer):
    """Accepts, then closes with `code`: what a client is told instead of a bare HTTP 403."""

    code = CLOSE_NOT_FOUND

    async def connect(self) -> None:
        await refuse(self, self.code)


class ForbiddenRefusal(Refusal):
    code = CLOSE_FORBIDDEN


class AllowedOriginValidator(OriginValidator):
    """Channels' AllowedHostsOriginValidator, refusing with 4403 after the handshake.

    A browser always sends the page's Origin, so a page on another site cannot use a
    signed-in user's token; clients that are not browsers must send an Origin whose
    host is in ALLOWED_HOSTS too (README). Channels' validator answered an HTTP 403
    before the handshake, so no client could tell a bad Origin from any other refusal.
    """

    def __init__(self, application: Any) -> None:
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = ["localhost", "127.0.0.1", "[::1]"]  # as Django's own DEBUG default
        super().__init__(application, allowed)
        self.refusal = ForbiddenRefusal.as_asgi()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        origin = None
        for name, value in scope.get("headers", []):
            if name == b"origin":
                try:
                    origin = urlparse(value.decode("latin-1"))
                except ValueError:
                    origin = None
        if self.valid_origin(origin):
            return await self.application(scope, receive, send)
        return await self.refusal(scope, receive, send)
