"""/api/v1/playlists, /api/v1/channels (with guide, M3U and playout) and /api/v1/schedule-blocks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.roles import Role
from apps.channels import feeds, selectors
from apps.channels.api import serializers as s
from apps.channels.filters import ChannelFilter, PlaylistFilter, ScheduleBlockFilter
from apps.channels.models import Channel, Playlist, PlaylistItem, ScheduleBlock
from apps.channels.play.recording import channel_set_recording
from apps.channels.play.services import channel_playing, channel_start, channel_stop
from apps.channels.services import channels as channel_services
from apps.channels.services import playlists as playlist_services
from apps.channels.services.playout import playout_rebuild
from castcore.api.errors import ApiError
from castcore.api.viewsets import CastCoreViewSet


class _Passthrough(BaseRenderer):
    """Lets a feed's media type negotiate; the view streams the body itself.

    Errors (401, 404…) still go out as the JSON envelope.
    """

    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> Any:
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


class XmlRenderer(_Passthrough):
    media_type = "application/xml"
    format = "xml"


class M3URenderer(_Passthrough):
    media_type = "audio/x-mpegurl"
    format = "m3u"


def _playing_schema(description: str) -> Callable[[Any], Any]:
    """A POST action on one channel that answers what the channel is doing."""
    schema = extend_schema(
        request=None, responses={200: s.ChannelPlayingSerializer}, description=description
    )
    route = action(detail=True, methods=["post"], filterset_class=None)
    return lambda method: schema(route(method))


class PlaylistViewSet(CastCoreViewSet):
    """Playlists and their items (media items, folders, sources, nested playlists)."""

    queryset = Playlist.objects.prefetch_related(
        Prefetch("items", queryset=PlaylistItem.objects.order_by("position", "id"))
    )
    serializer_class = s.PlaylistSerializer
    filterset_class = PlaylistFilter
    ordering_fields = ["id", "name", "created_at", "updated_at"]

    def perform_create(self, serializer: s.PlaylistSerializer) -> None:  # type: ignore[override]
        serializer.instance = playlist_services.playlist_create(
            actor=self.request.user, request=self.request, **serializer.validated_data
        )

    def perform_update(self, serializer: s.PlaylistSerializer) -> None:  # type: ignore[override]
        serializer.instance = playlist_services.playlist_update(
            actor=self.request.user,
            playlist=serializer.instance,  # type: ignore[arg-type]
            request=self.request,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance: Playlist) -> None:  # type: ignore[override]
        playlist_services.playlist_delete(
            actor=self.request.user, playlist=instance, request=self.request
        )

    @extend_schema(
        request=s.PlaylistItemSerializer,
        responses={201: s.PlaylistItemSerializer},
        description=(
            "Add an item. `kind`: " + s.KIND_HELP + ". In and out points (seconds) apply to "
            "media items. 409 `playlist.cycle` when the nested playlist contains this one."
        ),
    )
    @action(detail=True, methods=["post"])
    def items(self, request: Request, pk: str) -> Response:
        playlist = self.get_object()
        data = s.PlaylistItemSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        item = playlist_services.playlist_item_add(
            actor=request.user, playlist=playlist, request=request, **fields
        )
        return Response(s.PlaylistItemSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"items/(?P<item_id>[0-9]{1,18})")
    def remove_item(self, request: Request, pk: str, item_id: str) -> Response:
        playlist = self.get_object()
        item = get_object_or_404(PlaylistItem, pk=int(item_id), playlist=playlist)
        playlist_services.playlist_item_remove(actor=request.user, item=item, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelViewSet(CastCoreViewSet):
    """24/7 channels: identity for IPTV clients, output settings, filler and restream outputs."""

    queryset = Channel.objects.select_related(
        "logo", "player__job", "player__relay_job"
    ).prefetch_related("outputs")
    serializer_class = s.ChannelSerializer
    filterset_class = ChannelFilter
    ordering_fields = ["number", "name", "id", "created_at", "updated_at"]
    action_roles = {"start": Role.OPERATOR, "stop": Role.OPERATOR, "recording": Role.OPERATOR}

    def perform_create(self, serializer: s.ChannelSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        serializer.instance = channel_services.channel_create(
            actor=self.request.user, request=self.request, outputs=data.pop("outputs", []), **data
        )

    def perform_update(self, serializer: s.ChannelSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        channel = channel_services.channel_update(
            actor=self.request.user,
            channel=serializer.instance,  # type: ignore[arg-type]
            request=self.request,
            outputs=data.pop("outputs", None),
            **data,
        )
        serializer.instance = self.get_queryset().get(pk=channel.pk)

    def perform_destroy(self, instance: Channel) -> None:  # type: ignore[override]
        channel_services.channel_delete(
            actor=self.request.user, channel=instance, request=self.request
        )

    @extend_schema(
        parameters=[s.PlayoutQuerySerializer],
        responses={200: s.PlayoutRowSerializer(many=True)},
        description="The compiled playout rows overlapping [start, start + hours).",
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def playout(self, request: Request, pk: str) -> Response:
        channel = self.get_object()
        query = s.PlayoutQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start = query.validated_data.get("start") or timezone.now()
        rows = selectors.rows_between(
            channel, start, start + timedelta(hours=query.validated_data["hours"])
        )
        return Response(s.PlayoutRowSerializer(rows, many=True).data)

    @extend_schema(
        responses={
            200: s.NowPlayingSerializer,
            404: OpenApiResponse(description="Nothing compiled"),
        },
        description="What plays now and how far into its file (the playing engine joins here).",
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def now(self, request: Request, pk: str) -> Response:
        found = selectors.playout_at(self.get_object())
        if found is None:
            raise ApiError("channel.nothing_scheduled", status_code=status.HTTP_404_NOT_FOUND)
        return Response(s.NowPlayingSerializer(found).data)

    @_playing_schema(
        "Start playing the channel now (a no-op when it plays). 409 `channel.disabled`; "
        "400 `channel.profile_required` without an output profile."
    )
    def start(self, request: Request, pk: str) -> Response:
        return self._play(request, channel_start)

    @_playing_schema(
        "Stop playing the channel; it stays stopped until started again (the API, the "
        "scheduler): an on-demand channel's viewers do not start it meanwhile."
    )
    def stop(self, request: Request, pk: str) -> Response:
        return self._play(request, partial(channel_stop, hold=True))

    def _play(self, request: Request, service: Callable[..., Any]) -> Response:
        """Start or stop the channel, then answer what it is doing."""
        channel = self.get_object()
        service(actor=request.user, channel=channel, request=request)
        return Response(s.ChannelPlayingSerializer(channel_playing(channel=channel)).data)

    @extend_schema(
        request=s.ChannelRecordingToggleSerializer,
        responses={200: s.ChannelRecordingSerializer},
        description=(
            "Record what the channel airs (`enabled: true`) or stop recording. The channel's "
            "`recording_job` copies its HLS to one file from recording on to recording off "
            "or the channel's stop, whatever the playout does meanwhile (window ends, "
            "schedule changes); the file becomes one video recording then: "
            "`GET /recordings?stream_job={recording_job}` lists them, `POST /replay` "
            "publishes one. "
            "The recordings belong to whoever turned recording on. 400 "
            "`channel.profile_required` without an output profile."
        ),
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def recording(self, request: Request, pk: str) -> Response:
        channel = self.get_object()
        data = s.ChannelRecordingToggleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enabled = data.validated_data["enabled"]
        player, applies = channel_set_recording(
            actor=request.user, channel=channel, enabled=enabled, request=request
        )
        answer = {
            **channel_playing(channel=channel),
            "recording_enabled": enabled,
            "recording_job": player.relay_job_id,
        }
        return Response(s.ChannelRecordingSerializer({**answer, "applies": applies.value}).data)

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], filterset_class=None)
    def rebuild(self, request: Request, pk: str) -> Response:
        """Recompile the playout from now (the row on air stays)."""
        written = playout_rebuild(channel=self.get_object())
        return Response({"rows": written})

    @extend_schema(
        operation_id="channels_epg",
        description="The channel's XMLTV guide (xmltv.dtd), streamed; `/epg.xml` has every "
        "public channel's without authentication.",
        responses={
            (200, "application/xml"): OpenApiResponse(OpenApiTypes.STR, description="XMLTV")
        },
    )
    @action(
        detail=True, methods=["get"], url_path="epg.xml", filterset_class=None,
        renderer_classes=[JSONRenderer, XmlRenderer],
    )  # fmt: skip
    def epg(self, request: Request, pk: str) -> StreamingHttpResponse:
        channel = self.get_object()
        return feeds.xmltv_response(request, Channel.objects.filter(pk=channel.pk))

    @extend_schema(
        operation_id="channels_m3u",
        description="The channel's M3U entry for IPTV clients: its stream URL and its guide URL "
        "(`url-tvg`, `/channels/{slug}/epg.xml`) carry the channel's access token when it is "
        "not public, so a client needs no API token to follow them; `/playlist.m3u` lists "
        "every public channel.",
        responses={(200, "audio/x-mpegurl"): OpenApiResponse(OpenApiTypes.STR, description="M3U")},
    )
    @action(
        detail=True, methods=["get"], url_path="playlist.m3u", filterset_class=None,
        renderer_classes=[JSONRenderer, M3URenderer],
    )  # fmt: skip
    def m3u(self, request: Request, pk: str) -> StreamingHttpResponse:
        channel = self.get_object()
        return feeds.m3u_response(request, Channel.objects.filter(pk=channel.pk), single=channel)


class ScheduleBlockViewSet(CastCoreViewSet):
    """A channel's schedule: playlists airing from local times on chosen weekdays."""

    queryset = ScheduleBlock.objects.all()
    serializer_class = s.ScheduleBlockSerializer
    filterset_class = ScheduleBlockFilter
    ordering_fields = ["id", "start_time", "channel", "created_at"]
    audit_area = "schedule_block"

    def perform_create(self, serializer: s.ScheduleBlockSerializer) -> None:  # type: ignore[override]
        serializer.instance = channel_services.schedule_block_create(
            actor=self.request.user, request=self.request, **serializer.validated_data
        )

    def perform_update(self, serializer: s.ScheduleBlockSerializer) -> None:  # type: ignore[override]
        serializer.instance = channel_services.schedule_block_update(
            actor=self.request.user,
            block=serializer.instance,  # type: ignore[arg-type]
            request=self.request,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance: ScheduleBlock) -> None:  # type: ignore[override]
        channel_services.schedule_block_delete(
            actor=self.request.user, block=instance, request=self.request
        )
