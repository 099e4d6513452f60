from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.channels.scheduling import conf, services
from apps.channels.scheduling.api import serializers as s
from apps.channels.scheduling.filters import ScheduledActionFilter
from apps.channels.scheduling.models import ScheduledAction
from apps.channels.scheduling.recurrence import RecurrenceError
from castcore.api.errors import ApiError
from castcore.api.viewsets import CastCoreViewSet


class ScheduledActionViewSet(CastCoreViewSet):
    """Scheduled actions: one-off or recurring (RRULE) in a time zone; each occurrence
    runs once, however many schedulers run."""

    queryset = ScheduledAction.objects.select_related("owner")
    serializer_class = s.ScheduledActionSerializer
    filterset_class = ScheduledActionFilter
    ordering_fields = ["id", "name", "next_run_at", "created_at"]
    audit_area = "scheduled_action"

    def perform_create(self, serializer: s.ScheduledActionSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.scheduled_action_create(
            actor=self.request.user, request=self.request, **serializer.validated_data
        )

    def perform_update(self, serializer: s.ScheduledActionSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.scheduled_action_update(
            actor=self.request.user,
            action=serializer.instance,  # type: ignore[arg-type]
            request=self.request,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance: ScheduledAction) -> None:  # type: ignore[override]
        services.scheduled_action_delete(
            actor=self.request.user, action=instance, request=self.request
        )

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "count",
                OpenApiTypes.INT,
                description=f"How many (1–{conf.UPCOMING_MAX}, default {conf.UPCOMING_DEFAULT}).",
            )
        ],
        responses={200: s.OccurrencesSerializer},
        filters=False,
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def occurrences(self, request: Request, pk: str) -> Response:
        """The next occurrences from now, with the action's zone offset."""
        scheduled = self.get_object()
        raw = request.query_params.get("count", "")
        count = conf.UPCOMING_DEFAULT
        if raw:
            if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw[:4]) <= conf.UPCOMING_MAX:
                raise ApiError(
                    "validation.invalid", {"field": "count", "min": 1, "max": conf.UPCOMING_MAX}
                )
            count = int(raw)
        try:
            moments = (
                scheduled.recurrence.upcoming(timezone.now(), count) if scheduled.enabled else []
            )
        except RecurrenceError:
            moments = []
        return Response(
            {
                "timezone": scheduled.timezone,
                "occurrences": [s.local(moment, scheduled.timezone) for moment in moments],
            }
        )

    @extend_schema(responses={200: s.ScheduledRunSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=["occurrence_at"])
    def runs(self, request: Request, pk: str) -> Response:
        """What each handled occurrence did, newest first."""
        runs = self.get_object().runs.order_by("-occurrence_at")
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(s.ScheduledRunSerializer(page, many=True).data)
