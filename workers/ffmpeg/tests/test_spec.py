from __future__ import annotations

import pytest

from workers.ffmpeg.spec import (
    FileInput,
    FileOutput,
    HlsOutput,
    JobSpec,
    OverlaySpec,
    PlaylistInput,
    ProfileSpec,
    RateControl,
    RtmpOutput,
    SpecError,
    SrtOutput,
    TestPatternInput,
    UrlInput,
    UrlKind,
    VideoCodec,
    list_encoders,
    parse_encoders,
)


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: ProfileSpec(preset="-fast"), "spec.invalid_preset"),
        (
            lambda: ProfileSpec(video_codec=VideoCodec.H264_NVENC, preset="veryfast"),
            "spec.invalid_preset",
        ),
        (lambda: ProfileSpec(tune="zerolatency -i x"), "spec.invalid_tune"),
        (lambda: ProfileSpec(pix_fmt="yuv420p:x"), "spec.invalid_pix_fmt"),
        (lambda: ProfileSpec(level="4.1 "), "spec.invalid_level"),
        (lambda: ProfileSpec(width=1281), "spec.odd_dimension"),
        (lambda: ProfileSpec(fps=float("nan")), "spec.invalid_number"),
        (lambda: ProfileSpec(rate_control=RateControl.CRF), "spec.crf_required"),
        (lambda: ProfileSpec(audio_sample_rate=44000), "spec.invalid_sample_rate"),
        (lambda: FileInput(path="relative.mp4"), "stream_job.path_not_allowed"),
        (lambda: RtmpOutput(url="rtmp://h/app", stream_key=""), "validation.required"),
        (lambda: FileInput(path="/a\x00b"), "spec.invalid_text"),
        (lambda: PlaylistInput(paths=()), "spec.invalid_playlist"),
        (lambda: UrlInput(url="file:///etc/passwd"), "spec.invalid_url"),
        (lambda: UrlInput(url="-i http://x"), "spec.invalid_url"),
        (lambda: UrlInput(url="http://h/a b.ts"), "spec.invalid_url"),
        (lambda: UrlInput(url="rtmp://h/a", url_kind=UrlKind.SRT), "spec.url_kind_mismatch"),
        (lambda: RtmpOutput(url="http://h/app", stream_key="k"), "spec.invalid_url"),
        (lambda: SrtOutput(url="srt://h:1", passphrase="short"), "validation.out_of_range"),
        (lambda: HlsOutput(directory="/srv/50%off"), "stream_job.path_not_allowed"),
        (
            lambda: OverlaySpec(text="x", font_color="white:fontfile=/etc/passwd"),
            "spec.invalid_color",
        ),
        (lambda: TestPatternInput(width=True), "spec.invalid_number"),
        (
            lambda: JobSpec(input=TestPatternInput(), profile=ProfileSpec(), outputs=()),
            "validation.out_of_range",
        ),
    ],
)
def test_it_rejects_invalid_values(build: object, code: str) -> None:
    with pytest.raises(SpecError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.code == code


def test_url_kind_is_inferred_and_hls_detected() -> None:
    assert UrlInput(url="rtmps://h/app/k").url_kind is UrlKind.RTMPS
    assert UrlInput(url="https://cdn/live/index.m3u8?token=x").url_kind is UrlKind.HLS


def test_secrets_are_collected_and_kept_out_of_repr_and_errors() -> None:
    spec = JobSpec(
        input=UrlInput(url="srt://h:9000?passphrase=inputpass123"),
        profile=ProfileSpec(),
        outputs=(
            RtmpOutput(url="rtmp://u:pw123456@h/app", stream_key="thekey12345"),
            FileOutput(path="/x.mkv"),
        ),
    )
    assert set(spec.secrets()) == {"inputpass123", "thekey12345", "pw123456"}
    assert "thekey12345" not in repr(spec.outputs[0])
    with pytest.raises(SpecError) as caught:
        RtmpOutput(url="rtmp://h/app", stream_key="sec\x00ret")
    assert "sec" not in str(caught.value) + str(caught.value.params)


def test_parse_encoders_reads_the_table() -> None:
    text = (
        "Encoders:\n V..... = Video\n ------\n V....D libx264   libx264 H.264\n"
        " V..... h264_nvenc  NVIDIA NVENC\n A..... aac  AAC (Advanced Audio Coding)\n"
    )
    encoders = {e.name: e for e in parse_encoders(text)}
    assert set(encoders) == {"libx264", "h264_nvenc", "aac"}
    assert encoders["h264_nvenc"].hardware
    assert not encoders["libx264"].hardware
    assert encoders["aac"].media == "audio"


def test_list_encoders_asks_the_real_ffmpeg_once() -> None:
    encoders = list_encoders()
    names = {e.name for e in encoders}
    assert {"libx264", "aac", "libopus"} <= names
    assert all(e.hardware for e in encoders if e.name.endswith("_vaapi"))
    assert list_encoders() is encoders  # cached
