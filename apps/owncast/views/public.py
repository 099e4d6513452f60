"""Owncast's public endpoints: /api/status, /api/config, /api/ping, /api/yp, /api/emoji."""

from __future__ import annotations

from pathlib import Path

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chat.markup import EMOJI
from apps.owncast import presenters, resolver
from apps.owncast.responses import not_found
from apps.owncast.views.base import OwncastPublicView
from apps.streams.live import viewers
from apps.streams.live.selectors import current_session
from castcore.files import send_file
from castcore.pages import favicon

TAGS = ["owncast"]


class StatusView(OwncastPublicView):
    """Whether the stream is live, its viewers and peaks (Owncast's GetStatus)."""

    @extend_schema(
        tags=TAGS,
        summary="Current Status",
        responses={200: presenters.OwncastStatusSerializer},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        return Response(presenters.status(self.stream))


class ConfigView(OwncastPublicView):
    """The stream's details for a client's page (Owncast's GetWebConfig)."""

    @extend_schema(
        tags=TAGS, summary="Information", responses={200: presenters.OwncastConfigSerializer}
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        return Response(presenters.web_config(self.stream))


class PingView(OwncastPublicView):
    """Count the caller as a viewer while the stream is live (Owncast's Ping)."""

    @extend_schema(
        tags=TAGS,
        summary="Mark the current viewer as active.",
        responses={200: OpenApiResponse(description="Successful ping (empty body)")},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        stream = self.stream
        if current_session(stream) is not None:
            viewers.viewer_seen(stream.pk, viewers.viewer_id(request))
        return Response(status=200)


class YellowPagesView(OwncastPublicView):
    """The directory (YP) listing: CastCore registers with no directory, so Owncast's
    answer with the directory off, a 404 with no body."""

    @extend_schema(
        tags=TAGS,
        summary="Yellow Pages Information",
        responses={404: OpenApiResponse(description="The Owncast directory is off (no body)")},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        self.stream  # noqa: B018 (an unknown base is still the 404 of a missing path)
        return Response(status=404)


@require_safe
def logo(request: HttpRequest, slug: str | None = None) -> HttpResponseBase:
    """The stream's logo at the base's /logo, which /api/config names, as Owncast serves it;
    CastCore's icon for a stream without one. Public: the stream's own image."""
    stream = resolver.public_stream_for(slug)
    if stream is None:
        return not_found()
    if stream.logo is None:
        return favicon(request)
    return send_file(
        request,
        Path(stream.logo.file.path),
        content_type=stream.logo.mime,
        etag=f'"{stream.logo.sha256[:32]}"',
        cache_control="public, max-age=300",
    )


class EmojiView(OwncastPublicView):
    """The chat's own emoji: the `:name:` shortcodes a message may use (apps.chat.markup).

    CastCore has no image emoji: `emoji` is the character the shortcode becomes, where
    Owncast gives an image's path; a client that writes `:name:` gets it rendered.
    """

    @extend_schema(
        tags=TAGS,
        summary="Get Custom Emoji",
        responses={
            200: inline_serializer(
                "OwncastEmoji",
                {"name": serializers.CharField(), "emoji": serializers.CharField()},
                many=True,
            )
        },
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        self.stream  # noqa: B018
        emoji = [{"name": name, "emoji": char} for name, char in EMOJI.items()]
        return Response(emoji)
