"""Owncast's public endpoints: /api/status, /api/config, /api/ping, /api/yp, /api/emoji."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.owncast import presenters
from apps.owncast.views.base import OwncastPublicView
from apps.streams.live import viewers
from apps.streams.live.selectors import current_session

TAGS = ["owncast"]


class StatusView(OwncastPublicView):
    """Whether the stream is live, its viewers and peaks (Owncast's GetStatus)."""

    @extend_schema(
        tags=TAGS,
        summary="Current Status",
        responses={200: presenters.StatusSerializer},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        return Response(presenters.status(self.stream))


class ConfigView(OwncastPublicView):
    """The stream's details for a client's page (Owncast's GetWebConfig)."""

    @extend_schema(tags=TAGS, summary="Information", responses={200: presenters.ConfigSerializer})
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


class EmojiView(OwncastPublicView):
    """Custom emoji: none. CastCore's chat takes Unicode emoji as text and has no image
    emoji of its own, so the list Owncast clients read is empty."""

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
        emoji: list[dict[str, Any]] = []
        return Response(emoji)
