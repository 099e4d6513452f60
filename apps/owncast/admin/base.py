"""What every Owncast admin view shares: who may call it, and Owncast's `{"value": …}` body.

Owncast's admin API takes HTTP Basic `admin:<stream key>`. CastCore also takes an
integration token holding HAS_ADMIN_ACCESS (bound to this stream, or to none): a bot
that administers a stream needs no key. Anything else is 401, as Owncast answers: a
wrong key with its Basic challenge, a token without the scope `unauthorized`.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.integrations.models import IntegrationToken
from apps.owncast.auth import (
    HAS_ADMIN_ACCESS,
    OwncastAdminAuthentication,
    OwncastTokenAuthentication,
    requires_owncast_scope,
)
from apps.owncast.views.base import OwncastAdminView
from apps.streams.models import LiveStream


class _AdminOrAdminToken(BasePermission):
    """The stream's key (Basic), or a token with HAS_ADMIN_ACCESS that may act on the stream."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, LiveStream):
            return True
        if isinstance(request.auth, IntegrationToken):
            return bool(requires_owncast_scope(HAS_ADMIN_ACCESS)().has_permission(request, view))
        raise exceptions.NotAuthenticated()


class AdminView(OwncastAdminView):
    """An Owncast admin endpoint of the base's stream (`self.stream`)."""

    authentication_classes = [
        OwncastAdminAuthentication,
        OwncastTokenAuthentication,
    ]
    permission_classes = [_AdminOrAdminToken]
    checks_lockout = True  # wrong keys are rate limited per address: the schema documents 429

    @property
    def holds_key(self) -> bool:
        """Whether the caller authenticated with the stream's key (it may see the key)."""
        return isinstance(self.request.auth, LiveStream)


def config_value(request: Request) -> Any:
    """The `value` of Owncast's ConfigValue body (`{"value": …}`); a bare JSON value (the
    0.0.6 document's page content example) is taken as the value itself."""
    data = request.data
    if isinstance(data, dict) and "value" in data:
        return data["value"]
    if isinstance(data, dict) and not data:
        raise exceptions.ValidationError({"value": ["required"]})
    return data
