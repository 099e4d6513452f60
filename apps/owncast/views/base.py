"""The base classes of every Owncast view: the stream of the base, auth, errors and CORS.

- OwncastPublicView: anonymous; the base's stream must be public or unlisted.
- OwncastUserView: a chat user's `?accessToken=`.
- OwncastAdminView: Basic `admin:<stream key>`; `self.stream` is the stream it opens.
- OwncastIntegrationView: a Bearer integration token with `owncast_scope`.

Subclasses read `self.stream` (404 in Owncast's style when the base names none) and
answer with apps.owncast.responses.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.owncast import resolver, responses
from apps.owncast.auth import (
    OwncastAdminAuthentication,
    OwncastTokenAuthentication,
    OwncastUserTokenAuthentication,
    requires_owncast_scope,
)
from apps.streams.models import LiveStream


class OwncastView(APIView):
    """Shared by the four kinds below; not routed itself."""

    compat_api = True
    error_shapes = (responses.OWNCAST_ERRORS,)
    authentication_classes: Any = []
    permission_classes: Any = [AllowAny]
    cors_headers: ClassVar[dict[str, str]] = responses.PUBLIC_CORS
    # At the root too: no default stream (apps.owncast.resolver).
    error_statuses: ClassVar[dict[str, str]] = {
        "404": "No stream at this base (plain text `404 page not found`)"
    }
    # Whether an anonymous viewer may reach the base's stream (public views) or any
    # stream the credentials open (admin, integrations).
    public_stream: ClassVar[bool] = False
    # castcore.bodies answers a body over the route's limit before any view runs: in this shape.
    request_body_too_large = staticmethod(responses.too_large_body)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "OPTIONS":
            # A CORS preflight is answered before any credential is asked for (Owncast's
            # middleware does the same): 204 with the endpoint's CORS headers.
            preflight = HttpResponse(status=204)
            for name, value in self.cors_headers.items():
                preflight[name] = value
            return preflight
        return super().dispatch(request, *args, **kwargs)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in self.cors_headers.items():
            response.setdefault(name, value)
        return response

    def get_exception_handler(self) -> Any:
        return responses.owncast_exception_handler

    def unauthorized(self) -> HttpResponse:
        return responses.token_unauthorized()

    @property
    def slug(self) -> str | None:
        return self.kwargs.get("slug")

    def stream_or_none(self) -> LiveStream | None:
        """The base's stream (cached for the request), or None."""
        if not hasattr(self, "_stream"):
            finder = resolver.public_stream_for if self.public_stream else resolver.stream_for
            self._stream = finder(self.slug)
        return self._stream

    @property
    def stream(self) -> LiveStream:
        stream = self.stream_or_none()
        if stream is None:
            raise NotFound()
        return stream


class OwncastPublicView(OwncastView):
    """Anonymous: status, config, ping, yp, emoji, chat registration."""

    public_stream = True
    public_methods: ClassVar[set[str]] = {"GET", "POST"}


class OwncastUserView(OwncastView):
    """A chat user by `?accessToken=` (Owncast's RequireUserAccessToken)."""

    public_stream = True
    authentication_classes: Any = [OwncastUserTokenAuthentication]
    permission_classes: Any = [IsAuthenticated]


class OwncastAdminView(OwncastView):
    """Basic `admin:<the stream's ingest key>` (Owncast's RequireAdminAuth)."""

    authentication_classes: Any = [OwncastAdminAuthentication]
    permission_classes: Any = [IsAuthenticated]
    cors_headers = responses.ADMIN_CORS

    def unauthorized(self) -> HttpResponse:
        return responses.admin_unauthorized()


class OwncastIntegrationView(OwncastView):
    """A Bearer integration token holding `owncast_scope` (RequireExternalAPIAccessToken)."""

    owncast_scope: ClassVar[str] = ""
    authentication_classes: Any = [OwncastTokenAuthentication]

    def get_permissions(self) -> list[BasePermission]:
        return [requires_owncast_scope(self.owncast_scope)()]
