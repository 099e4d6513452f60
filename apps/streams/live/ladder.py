"""A live stream's output ladder: its variants, validated by the engine, and the HLS ladder
output its transcode writes (workers.ffmpeg.ladder)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from apps.streams.live.models import LiveSession, LiveStream
from apps.streams.live.paths import hls_dir
from castcore.api.errors import ApiError
from workers.ffmpeg import ladder as engine_ladder
from workers.ffmpeg import spec as engine

# An empty `variants`: the publisher's own video for viewers who can take it, and one
# 360p encode for the rest. One encode per stream keeps many streams on a small host;
# the passthrough needs an H.264 publish, which is what OBS and every RTMP encoder send
# by default (a ladder of encodes only is the choice for anything else).
DEFAULT_VARIANTS: tuple[engine.VariantSpec, ...] = (
    engine.VariantSpec(name="source", passthrough=True),
    engine.VariantSpec(name="360p", height=360, video_bitrate_kbps=800, audio_bitrate_kbps=96),
)

# How ingest and ffprobe name H.264 (ffprobe's codec_name, nginx-rtmp's stats, FourCC).
H264_NAMES = frozenset({"h264", "avc", "avc1"})
# A non-H.264 publish of unknown size, encoded in place of its passthrough.
FALLBACK_HEIGHT = 720


def validate_variants(value: Any) -> list[dict[str, Any]]:
    """`value` as stored in LiveStream.variants (every field filled in), or ApiError
    (400) whose `params.field` names the item and field: `variants[1].width`."""
    try:
        variants = engine_ladder.variants_from_json(value)
        if variants:
            # The rules across variants (names unique, one passthrough) are the ladder's.
            engine.HlsLadderOutput(directory="/", variants=variants)
    except engine.SpecError as exc:
        raise ApiError(exc.code, dict(exc.params)) from None
    return engine_ladder.variants_to_json(variants)


def open_session(stream: LiveStream) -> LiveSession | None:
    return stream.sessions.filter(ended_at__isnull=True).first()


def variants_of(
    stream: LiveStream, session: LiveSession | None = None
) -> tuple[engine.VariantSpec, ...]:
    """The stream's variants (the default ladder when it names none), fitted to what the
    open publish `session` sends, when the ingest has read it (_for_inbound)."""
    variants = engine_ladder.variants_from_json(stream.variants) or DEFAULT_VARIANTS
    return tuple(_for_inbound(variant, session) for variant in variants)


def _for_inbound(variant: engine.VariantSpec, session: LiveSession | None) -> engine.VariantSpec:
    """A passthrough of what the publisher sends: its bitrate declared in the master when
    the operator gave none; an encode at the publisher's size instead when the video is
    not H.264 (HLS in MPEG-TS carries H.264; the ladder's ffmpeg would refuse the copy)."""
    if not variant.passthrough or session is None:
        return variant
    inbound = _kbps(session.video_bitrate_kbps)
    codec = session.video_codec.lower()
    if codec and codec not in H264_NAMES:
        height = session.height - session.height % 2 if session.height else None
        return engine.VariantSpec(
            name=variant.name,
            height=min(max(height or FALLBACK_HEIGHT, 16), 4320),
            video_bitrate_kbps=(
                variant.video_bitrate_kbps or inbound or engine_ladder.PASSTHROUGH_DECLARED_KBPS
            ),
            audio_bitrate_kbps=variant.audio_bitrate_kbps,
        )
    if variant.video_bitrate_kbps is None and inbound:
        return replace(variant, video_bitrate_kbps=inbound)
    return variant


def _kbps(value: int | None) -> int | None:
    return min(max(value, 50), 100_000) if value else None


def ladder_output(stream: LiveStream, *, with_audio: bool = True) -> engine.HlsLadderOutput:
    """The HLS ladder output of the stream's transcode, into `hls_dir(stream)`.

    `with_audio=False` for an input without sound. A publish the ingest has read (its
    session's codecs are filled in) with video and no audio also has none: hlsenc's
    stream map must not name audio that is not there."""
    session = open_session(stream)
    if session is not None and session.video_codec and not session.audio_codec:
        with_audio = False
    segment_seconds, list_size = engine_ladder.latency_window(stream.latency_level)
    return engine.HlsLadderOutput(
        directory=str(hls_dir(stream)),
        variants=variants_of(stream, session),
        segment_seconds=segment_seconds,
        list_size=list_size,
        with_audio=with_audio,
    )
