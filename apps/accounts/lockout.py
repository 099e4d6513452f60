"""Login lockout (django-axes): who is locked out, for how long, and how that is answered.

A lockout is keyed on the user name together with the client's address
(AXES_LOCKOUT_PARAMETERS, the address as castcore.client_ip resolves it): failed
logins from one address lock that user name out from that address only. Every
lockout answer says how long is left, in `Retry-After` and `params.retry_after`.
"""

from __future__ import annotations

import math
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework import status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from castcore.api.errors import ApiError, envelope


class LockedOut(ApiError):
    """429 auth.locked_out; the exception handler sends `wait` as Retry-After."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, seconds_left: int) -> None:
        super().__init__("auth.locked_out", {"retry_after": seconds_left})
        self.wait = seconds_left


def seconds_left(request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
    """Seconds until the lockout that covers this request ends (at least 1).

    A lockout lasts AXES_COOLOFF_TIME from the latest failed attempt it counts.
    """
    cooloff = settings.AXES_COOLOFF_TIME
    AxesProxyHandler.update_request(request)
    handler = AxesProxyHandler.get_implementation()
    latest = None
    get_user_attempts = getattr(handler, "get_user_attempts", None)  # the database handler
    if get_user_attempts is not None:
        for attempts in get_user_attempts(request, credentials):
            last = attempts.order_by("-attempt_time").values_list("attempt_time", flat=True)
            found = last.first()
            if found is not None and (latest is None or found > latest):
                latest = found
    if latest is None:
        return max(1, int(cooloff.total_seconds()))
    left = (latest + cooloff - timezone.now()).total_seconds()
    return max(1, math.ceil(left))


def raise_if_locked(request: HttpRequest, credentials: dict[str, Any]) -> None:
    """Raise LockedOut when this user name is locked out from this client's address."""
    if getattr(request, "axes_locked_out", False) or AxesProxyHandler.is_locked(
        request, credentials
    ):
        raise LockedOut(seconds_left(request, credentials))


def raise_if_refresh_locked(request: HttpRequest, refresh: object) -> None:
    """A refresh token mints nothing while its user is locked out from this address.

    Otherwise a session taken before the lockout (or by whoever is guessing the
    password) would go on for as long as its refresh tokens rotate.
    """
    from apps.accounts.models import User

    if not isinstance(refresh, str):
        return  # the refresh serializer answers with the validation error
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]
    except TokenError:
        return  # the refresh serializer answers auth.token_invalid
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    lookup = {jwt_settings.USER_ID_FIELD: user_id}
    user = User.objects.filter(**lookup).first() if user_id is not None else None
    if user is not None:
        raise_if_locked(request, {"username": user.get_username()})


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes lockout: the error envelope for the API, a plain page elsewhere."""
    retry_after = seconds_left(request, credentials if isinstance(credentials, dict) else None)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            envelope("auth.locked_out", {"retry_after": retry_after}), status=429
        )
    else:
        response = HttpResponse(
            "Too many failed sign-in attempts. Try again later.",
            status=429,
            content_type="text/plain",
        )
    response["Retry-After"] = str(retry_after)
    return response


def announce_lockout(
    sender: object, request: Any = None, username: str = "", **kwargs: Any
) -> None:
    """auth.lockout, for django-axes' user_locked_out (its one way of telling a lockout)."""
    from castcore.events import emit

    ip = kwargs.get("ip_address") or ""
    emit(
        "auth.lockout",
        {
            "username": username,
            "ip": ip,
            "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        subject=f"user:{username}",
    )
