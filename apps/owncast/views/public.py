"""Owncast's public endpoints: /api/status, /api/config, /api/ping, /api/yp, /api/emoji."""

from __future__ import annotations

from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
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


def emoji_path(slug: str | None, name: str) -> str:
    """The path of an emoji's image under the base: `/img/emoji/<name>.svg`, as Owncast's."""
    if slug is None:
        return reverse("owncast-default-emoji-image", kwargs={"name": name})
    return reverse("owncast-emoji-image", kwargs={"slug": slug, "name": name})


class EmojiView(OwncastPublicView):
    """The chat's own emoji: the `:name:` shortcodes a message may use (apps.chat.markup).

    `emoji` is the path of its image under the base, as Owncast's clients expect (they
    show it with <img>): CastCore has no image files of its own, so each image is an
    SVG of the character the shortcode becomes (emoji_image).
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
        return Response([{"name": name, "emoji": emoji_path(slug, name)} for name in EMOJI])


#: One emoji character, centred; the character is the chat's own (apps.chat.markup.EMOJI),
#: never the request's.
_EMOJI_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32" width="32" height="32">'
    '<text x="16" y="17" font-size="26" text-anchor="middle" dominant-baseline="central">'
    "{char}</text></svg>"
)


@require_safe
def emoji_image(request: HttpRequest, name: str, slug: str | None = None) -> HttpResponseBase:
    """An emoji's image at the base's /img/emoji/<name>.svg, which /api/emoji names."""
    if resolver.public_stream_for(slug) is None or name not in EMOJI:
        return not_found()
    response = HttpResponse(_EMOJI_SVG.format(char=EMOJI[name]), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    # An image, never a document that runs anything, even when opened on its own.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
