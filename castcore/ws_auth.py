"""WebSocket authentication with the same credentials as the HTTP API.

Clients that can set headers send `Authorization: Bearer …`; browsers, which
cannot, send `?token=…` in the query string. The token is resolved once in
connect(); consumers re-check permissions on every event they send.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser


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
