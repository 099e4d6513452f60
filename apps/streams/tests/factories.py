from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.streams.models import (
    FFmpegProfile,
    InputKind,
    JobState,
    OutputKind,
    RunState,
    StreamJob,
    StreamOutput,
    StreamRun,
)
from apps.streams.services import stream_job_start


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FFmpegProfile

    name = factory.Sequence(lambda n: f"profile {n}")
    # Small and fast: tests encode for real, many at once.
    video_codec = "libx264"
    preset = "ultrafast"
    rate_control = "cbr"
    video_bitrate_kbps = 300
    width = 320
    height = 240
    keyframe_interval_s = 1.0
    audio_codec = "aac"
    audio_bitrate_kbps = 64
    audio_sample_rate = 44100
    audio_channels = 2


class StreamJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StreamJob

    name = factory.Sequence(lambda n: f"job {n}")
    owner = factory.SubFactory(UserFactory, role=Role.OPERATOR)
    created_by = factory.SelfAttribute("owner")
    input_kind = InputKind.TEST_PATTERN
    input_pattern = "testsrc"
    input_width = 320
    input_height = 240
    input_rate = 25
    realtime = True
    profile = factory.SubFactory(ProfileFactory)
    reconnect_max_attempts = 2
    reconnect_base_seconds = 0.2
    reconnect_cap_seconds = 0.5
    stall_timeout_seconds = 10.0


class OutputFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StreamOutput

    job = factory.SubFactory(StreamJobFactory)
    kind = OutputKind.RTMP
    url = "rtmp://127.0.0.1:1935/live"
    stream_key = "goodkey"
    enabled = True


def job_with_outputs(*outputs: dict[str, Any], **fields: Any) -> StreamJob:
    job: StreamJob = StreamJobFactory(**fields)  # type: ignore[assignment]
    for position, output in enumerate(outputs):
        OutputFactory(job=job, position=position, **output)
    return job


def new_profile(**fields: Any) -> FFmpegProfile:
    profile: FFmpegProfile = ProfileFactory(**fields)  # type: ignore[assignment]
    return profile


def running_job(*, lease_left_s: float, name: str = "job") -> StreamJob:
    """A job its worker runs, as the rows say, with `lease_left_s` left on the run's lease
    (negative: it expired that long ago). No worker, no reconciler."""
    job = job_with_outputs({"kind": "udp", "url": "udp://127.0.0.1:9", "stream_key": ""})
    StreamJob.objects.filter(pk=job.pk).update(name=name)
    stream_job_start(actor=None, job=job)
    now = timezone.now()
    StreamRun.objects.filter(job=job).update(
        state=RunState.RUNNING,
        worker="gone-worker",
        pid=999999,
        started_at=now - timedelta(minutes=5),
        heartbeat_at=now - timedelta(seconds=5),
        lease_expires_at=now + timedelta(seconds=lease_left_s),
        last_stats={"fps": 30.0, "bitrate_kbps": 4000.0, "speed": 1.0, "frames": 9000},
        reconnect_count=2,
    )
    StreamJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    job.refresh_from_db()
    return job
