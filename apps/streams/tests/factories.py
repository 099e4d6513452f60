from __future__ import annotations

from typing import Any

import factory

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.streams.models import FFmpegProfile, InputKind, OutputKind, StreamJob, StreamOutput


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
