from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Role
from apps.streams import services
from apps.streams.api import serializers as s
from apps.streams.filters import FFmpegProfileFilter, StreamJobFilter, StreamReportFilter
from apps.streams.models import FFmpegProfile, ReportKind, StreamJob, StreamReport
from apps.streams.preview import preview
from apps.streams.selectors import jobs_visible_to, with_current_lease
from apps.streams.status import status_event
from castcore.api.viewsets import CastCoreViewSet


class FFmpegProfileViewSet(CastCoreViewSet):
    """Typed FFmpeg encoding profiles; every save is validated by the engine."""

    queryset = FFmpegProfile.objects.all()
    serializer_class = s.FFmpegProfileSerializer
    filterset_class = FFmpegProfileFilter
    ordering_fields = ["id", "name", "video_codec", "created_at", "updated_at"]

    def perform_create(self, serializer: s.FFmpegProfileSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.ffmpeg_profile_create(
            actor=self.request.user, request=self.request, **serializer.validated_data
        )

    def perform_update(self, serializer: s.FFmpegProfileSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.ffmpeg_profile_update(
            actor=self.request.user,
            profile=serializer.instance,  # type: ignore[arg-type]
            request=self.request,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance: FFmpegProfile) -> None:  # type: ignore[override]
        services.ffmpeg_profile_delete(
            actor=self.request.user, profile=instance, request=self.request
        )


_CONTROL_DOC = "Compare-and-set transition; 409 `stream_job.invalid_transition` {from, to}."


class StreamJobViewSet(CastCoreViewSet):
    """Stream jobs with nested outputs (stream keys write-only), process control and status."""

    queryset = StreamJob.objects.select_related("profile").prefetch_related("outputs")
    serializer_class = s.StreamJobSerializer
    filterset_class = StreamJobFilter
    ordering_fields = ["id", "name", "state", "created_at", "updated_at", "state_changed_at"]

    def restrict(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        jobs = jobs_visible_to(self.request.user, queryset)
        # A list reads each job's lease in its own query (no query per row); a detail or
        # an action reads it after its transition, when the response is built.
        return with_current_lease(jobs) if self.action == "list" else jobs

    def perform_create(self, serializer: s.StreamJobSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        serializer.instance = services.stream_job_create(
            actor=self.request.user, request=self.request, outputs=data.pop("outputs"), **data
        )

    def perform_update(self, serializer: s.StreamJobSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        serializer.instance = services.stream_job_update(
            actor=self.request.user,
            job=serializer.instance,  # type: ignore[arg-type]
            request=self.request,
            outputs=data.pop("outputs", None),
            **data,
        )
        # The prefetched outputs are stale after a replace.
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    def perform_destroy(self, instance: StreamJob) -> None:  # type: ignore[override]
        services.stream_job_delete(actor=self.request.user, job=instance, request=self.request)

    def _job_response(self, job: StreamJob, code: int = status.HTTP_200_OK) -> Response:
        """`job` as loaded by get_object (profile and outputs), its state re-read by the service."""
        return Response(s.StreamJobSerializer(job).data, status=code)

    @extend_schema(request=s.DuplicateSerializer, responses={201: s.StreamJobSerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: str) -> Response:
        data = s.DuplicateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        copy = services.stream_job_duplicate(
            actor=request.user, job=self.get_object(), request=request, **data.validated_data
        )
        return self._job_response(self.get_queryset().get(pk=copy.pk), status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.StreamJobSerializer}, description=_CONTROL_DOC)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str) -> Response:
        job = services.stream_job_start(actor=request.user, job=self.get_object(), request=request)
        return self._job_response(job)

    @extend_schema(request=None, responses={200: s.StreamJobSerializer}, description=_CONTROL_DOC)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str) -> Response:
        job = services.stream_job_stop(actor=request.user, job=self.get_object(), request=request)
        return self._job_response(job)

    @extend_schema(request=None, responses={200: s.StreamJobSerializer}, description=_CONTROL_DOC)
    @action(detail=True, methods=["post"])
    def restart(self, request: Request, pk: str) -> Response:
        job = services.stream_job_restart(
            actor=request.user, job=self.get_object(), request=request
        )
        return self._job_response(job)

    @extend_schema(request=None, responses={200: s.StreamJobSerializer}, description=_CONTROL_DOC)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        job = services.stream_job_pause(actor=request.user, job=self.get_object(), request=request)
        return self._job_response(job)

    @extend_schema(
        responses={200: s.StreamStatusSerializer},
        description=(
            "The job's state and its current run's figures: live while the run is active "
            "(as the status socket sent them; stored with the run within a heartbeat, at "
            "once for the first figures), the figures it ended with once it ended."
        ),
    )
    @action(detail=True, methods=["get"], url_path="status")
    def job_status(self, request: Request, pk: str) -> Response:
        event = dict(status_event(self.get_object()))
        event.pop("type")
        return Response(event)

    @extend_schema(
        request=s.RecordingToggleSerializer, responses={200: s.RecordingToggleResultSerializer}
    )
    @action(detail=True, methods=["post"])
    def recording(self, request: Request, pk: str) -> Response:
        data = s.RecordingToggleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job, applies = services.stream_job_set_recording(
            actor=request.user,
            job=self.get_object(),
            enabled=data.validated_data["enabled"],
            request=request,
        )
        fresh = self.get_queryset().get(pk=job.pk)
        return Response({**s.StreamJobSerializer(fresh).data, "applies": applies.value})

    @extend_schema(responses={200: s.StreamRunSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=["number"])
    def runs(self, request: Request, pk: str) -> Response:
        runs = self.get_object().runs.order_by("-number")
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(s.StreamRunSerializer(page, many=True).data)

    def _report(self, request: Request, kind: str) -> Response:
        report = services.stream_report_request(
            actor=request.user, job=self.get_object(), kind=kind, request=request
        )
        return Response(s.StreamReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: s.StreamReportSerializer})
    @action(detail=True, methods=["post"])
    def preflight(self, request: Request, pk: str) -> Response:
        return self._report(request, ReportKind.PREFLIGHT)

    @extend_schema(request=None, responses={202: s.StreamReportSerializer})
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request: Request, pk: str) -> Response:
        return self._report(request, ReportKind.DRY_RUN)


class StreamReportViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Preflight and dry-run reports (written by the preflight worker)."""

    queryset = StreamReport.objects.all()
    serializer_class = s.StreamReportSerializer
    filterset_class = StreamReportFilter
    ordering_fields = ["id", "created_at", "finished_at"]

    def get_queryset(self) -> QuerySet[StreamReport]:
        return StreamReport.objects.filter(job__in=jobs_visible_to(self.request.user))


class PreviewView(APIView):
    """The exact ffmpeg argv for a saved job or a payload, secrets masked, plus warnings.

    A payload is validated exactly as create validates it (same codes, same fields).
    """

    write_role = Role.OPERATOR
    audit_exempt = True  # a preview changes nothing

    @extend_schema(request=s.PreviewRequestSerializer, responses={200: s.PreviewSerializer})
    def post(self, request: Request) -> Response:
        data = s.PreviewRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "job_id" in data.validated_data:
            job = get_object_or_404(jobs_visible_to(request.user), pk=data.validated_data["job_id"])
            return Response(preview(job))
        fields = dict(data.validated_data["job"])
        outputs = [{k: v for k, v in o.items() if k != "id"} for o in fields.pop("outputs")]
        job = StreamJob(**fields)
        rows = services.stream_job_validate(job=job, outputs=outputs)
        return Response(preview(job, rows))
