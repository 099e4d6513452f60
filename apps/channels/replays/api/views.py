from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from apps.channels.replays import services
from apps.channels.replays.api import serializers as s
from apps.channels.replays.filters import ReplayFilter
from apps.channels.replays.models import Replay
from apps.channels.replays.selectors import replays_for
from apps.recordings.selectors import recordings_for
from castcore.api.errors import ApiError
from castcore.api.viewsets import CastCoreViewSet


class ReplayViewSet(CastCoreViewSet):
    """Replays: finished recordings published with a title, description and visibility."""

    queryset = Replay.objects.all()
    serializer_class = s.ReplaySerializer
    filterset_class = ReplayFilter
    ordering_fields = ["id", "title", "published_at", "created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    audit_area = "replay"

    def restrict(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(pk__in=replays_for(self.request.user).values("pk")).select_related(
            "recording", "reair_channel"
        )

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action == "partial_update":
            return s.ReplayUpdateSerializer
        return s.ReplaySerializer

    def perform_create(self, serializer: s.ReplaySerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        recording_id = data.pop("recording_id")
        recording = recordings_for(self.request.user).filter(pk=recording_id).first()
        if recording is None:
            raise ApiError("validation.does_not_exist", {"field": "recording"})
        serializer.instance = services.replay_create(
            actor=self.request.user, request=self.request, recording=recording, **data
        )

    def perform_update(self, serializer: s.ReplaySerializer) -> None:  # type: ignore[override]
        serializer.instance = services.replay_update(
            actor=self.request.user,
            replay=serializer.instance,  # type: ignore[arg-type]
            request=self.request,
            **serializer.validated_data,
        )
