"""A live stream's transcode spec carries its HLS ladder; its variants are validated by the
engine, with errors that name the item and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from apps.streams.live.ladder import DEFAULT_VARIANTS, validate_variants
from apps.streams.live.paths import clear_hls_dir, hls_dir, live_root
from apps.streams.models import LiveSession, LiveStream, OutputKind, StreamJob
from apps.streams.preview import preview
from apps.streams.quota import job_paths
from apps.streams.specs import job_spec_for, output_spec_for
from apps.streams.tests.factories import OutputFactory, StreamJobFactory
from castcore.api.errors import ApiError
from workers.ffmpeg import spec as engine

pytestmark = pytest.mark.django_db

TWO = [
    {"name": "240p", "width": 426, "height": 240, "video_bitrate_kbps": 300},
    {"name": "144p", "width": 256, "height": 144, "video_bitrate_kbps": 120, "fps": 15},
]


def live_stream(**fields: Any) -> LiveStream:
    job: StreamJob = StreamJobFactory()  # type: ignore[assignment]
    return LiveStream.objects.create(name="Live", slug=f"live-{job.pk}", job=job, **fields)


def test_a_live_streams_job_writes_its_ladder_into_the_streams_folder() -> None:
    stream = live_stream(variants=TWO, latency_level=0)
    spec = job_spec_for(stream.job)
    ladder = spec.outputs[-1]
    assert isinstance(ladder, engine.HlsLadderOutput)
    assert ladder.directory == str(hls_dir(stream))
    assert Path(ladder.directory) == Path(settings.VAR_DIR) / "live" / str(stream.pk)
    assert [v.name for v in ladder.variants] == ["240p", "144p"]
    assert (ladder.variants[1].width, ladder.variants[1].height, ladder.variants[1].fps) == (
        256,
        144,
        15,
    )
    assert (ladder.segment_seconds, ladder.list_size) == (1, 8)  # level 0: 1 s segments


def test_the_latency_level_picks_segment_length_and_window() -> None:
    stream = live_stream(variants=TWO, latency_level=4)
    ladder = job_spec_for(stream.job).outputs[-1]
    assert isinstance(ladder, engine.HlsLadderOutput)
    assert (ladder.segment_seconds, ladder.list_size) == (6, 10)


def test_a_job_without_a_live_stream_gets_no_ladder() -> None:
    job: StreamJob = StreamJobFactory()  # type: ignore[assignment]
    OutputFactory(job=job)
    assert not any(isinstance(o, engine.HlsLadderOutput) for o in job_spec_for(job).outputs)


def test_no_variants_means_the_default_ladder() -> None:
    stream = live_stream()
    ladder = job_spec_for(stream.job).outputs[-1]
    assert isinstance(ladder, engine.HlsLadderOutput)
    assert ladder.variants == DEFAULT_VARIANTS
    assert ladder.variants[ladder.feed].passthrough


def test_a_passthrough_declares_the_open_sessions_inbound_bitrate() -> None:
    stream = live_stream(variants=[{"name": "source", "passthrough": True}, TWO[1]])
    LiveSession.objects.create(stream=stream, protocol="rtmp", video_bitrate_kbps=4500)
    ladder = job_spec_for(stream.job).outputs[-1]
    assert isinstance(ladder, engine.HlsLadderOutput)
    assert ladder.variants[0].video_bitrate_kbps == 4500


def test_a_non_h264_publish_is_encoded_at_its_size_instead_of_passed_through() -> None:
    stream = live_stream()  # the default ladder: a passthrough and a 360p
    LiveSession.objects.create(
        stream=stream, protocol="srt", video_codec="hevc", audio_codec="aac", height=1081
    )
    ladder = job_spec_for(stream.job).outputs[-1]
    assert isinstance(ladder, engine.HlsLadderOutput)
    source = ladder.variants[0]
    assert not source.passthrough and source.name == "source"
    assert (source.width, source.height) == (None, 1080)  # even, aspect kept
    assert ladder.variants[1] == DEFAULT_VARIANTS[1]


def test_an_h264_publish_keeps_its_passthrough() -> None:
    stream = live_stream()
    LiveSession.objects.create(
        stream=stream, protocol="rtmp", video_codec="H264", audio_codec="aac"
    )
    ladder = job_spec_for(stream.job).outputs[-1]
    assert isinstance(ladder, engine.HlsLadderOutput)
    assert ladder.variants[0].passthrough and ladder.with_audio


def test_a_publish_read_without_audio_gets_a_ladder_without_audio() -> None:
    stream = live_stream(variants=TWO)
    LiveSession.objects.create(stream=stream, protocol="rtmp", video_codec="h264")
    ladder = job_spec_for(stream.job).outputs[-1]
    assert isinstance(ladder, engine.HlsLadderOutput)
    assert not ladder.with_audio


def test_a_test_pattern_without_sound_gets_a_ladder_without_audio() -> None:
    stream = live_stream(variants=TWO)
    StreamJob.objects.filter(pk=stream.job.pk).update(input_with_audio=False)
    stream.job.refresh_from_db()
    ladder = job_spec_for(stream.job).outputs[-1]
    assert isinstance(ladder, engine.HlsLadderOutput)
    assert not ladder.with_audio


def test_the_ladder_comes_after_the_jobs_outputs_so_their_indexes_stay_the_rows(
    tmp_path: Path,
) -> None:
    stream = live_stream(variants=TWO)
    OutputFactory(job=stream.job, kind=OutputKind.RTMP)
    spec = job_spec_for(stream.job, recording_path=tmp_path / "rec.mkv")
    kinds = [type(o) for o in spec.outputs]
    assert kinds == [engine.RtmpOutput, engine.FileOutput, engine.HlsLadderOutput]


def test_no_job_output_may_point_into_the_live_folder() -> None:
    stream = live_stream()
    row = OutputFactory.build(
        job=stream.job, kind=OutputKind.FILE, url=str(live_root() / "1" / "x.mkv")
    )
    with pytest.raises(engine.SpecError) as caught:
        output_spec_for(row)
    assert caught.value.code == "stream_job.path_not_allowed"


def test_the_disk_quota_counts_the_streams_hls_folder() -> None:
    stream = live_stream()
    assert str(hls_dir(stream)) in job_paths(stream.job)


def test_a_fresh_session_may_clear_the_folder() -> None:
    stream = live_stream()
    folder = hls_dir(stream) / "source"
    folder.mkdir(parents=True)
    (folder / "index.m3u8").write_text("#EXTM3U\n")
    clear_hls_dir(stream)
    assert not hls_dir(stream).exists()
    clear_hls_dir(stream)  # nothing there: nothing to do


def test_valid_variants_are_returned_with_every_field() -> None:
    stored = validate_variants(TWO)
    assert stored[0] == {
        "name": "240p",
        "passthrough": False,
        "width": 426,
        "height": 240,
        "video_bitrate_kbps": 300,
        "fps": None,
        "audio_bitrate_kbps": 128,
    }
    assert validate_variants([]) == []


@pytest.mark.parametrize(
    ("value", "code", "field"),
    [
        ([TWO[0], {**TWO[1], "width": 255}], "spec.odd_dimension", "variants[1].width"),
        ([TWO[0], {**TWO[1], "width": 9}], "validation.out_of_range", "variants[1].width"),
        ([{**TWO[0], "height": "720"}], "spec.invalid_number", "variants[0].height"),
        ([{**TWO[0], "height": True}], "spec.invalid_number", "variants[0].height"),
        (
            [{**TWO[0], "video_bitrate_kbps": None}],
            "validation.required",
            "variants[0].video_bitrate_kbps",
        ),
        ([{"width": 426, "height": 240}], "validation.required", "variants[0].name"),
        ([{**TWO[0], "name": "a b"}], "spec.invalid_variant_name", "variants[0].name"),
        ([{**TWO[0], "name": "../x"}], "spec.invalid_variant_name", "variants[0].name"),
        ([TWO[0], TWO[0]], "spec.duplicate_variant_name", "variants[1].name"),
        (
            [{"name": "a", "passthrough": True}, {"name": "b", "passthrough": True}],
            "spec.one_passthrough",
            "variants[1].passthrough",
        ),
        (
            [{"name": "a", "passthrough": True, "height": 720}],
            "spec.passthrough_not_encoded",
            "variants[0].height",
        ),
        ([{**TWO[0], "codec": "vp9"}], "spec.unknown_field", "variants[0].codec"),
        ([TWO[0], "720p"], "spec.invalid_variant", "variants[1]"),
        ({"name": "x"}, "spec.invalid_variants", "variants"),
        ([TWO[0]] * 7, "validation.out_of_range", "variants"),
    ],
)
def test_invalid_variants_name_their_field(value: Any, code: str, field: str) -> None:
    with pytest.raises(ApiError) as caught:
        validate_variants(value)
    assert (caught.value.code, caught.value.params["field"]) == (code, field)
    assert caught.value.status_code == 400


def test_the_command_preview_of_a_live_job_shows_the_ladder() -> None:
    stream = live_stream(variants=TWO)
    OutputFactory(job=stream.job, kind=OutputKind.RTMP, stream_key="s3cretkey")
    shown = preview(stream.job)
    argv = " ".join(shown["argv"])
    assert "var_stream_map" in argv and str(hls_dir(stream)) in argv
    assert "s3cretkey" not in repr(shown)
