"""A live stream's output ladder: its variants, validated by the engine, and the HLS ladder
output its transcode writes (workers.ffmpeg.ladder)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from apps.streams.live.models import LiveStream
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


def variants_of(stream: LiveStream) -> tuple[engine.VariantSpec, ...]:
    """The stream's variants, or the default ladder when it names none. A passthrough
    whose bitrate the operator left out declares the open session's inbound bitrate
    (what the encoder says it sends), else the engine's default."""
    variants = engine_ladder.variants_from_json(stream.variants) or DEFAULT_VARIANTS
    if not any(v.passthrough and v.video_bitrate_kbps is None for v in variants):
        return variants
    session = stream.sessions.filter(ended_at__isnull=True).only("video_bitrate_kbps").first()
    inbound = session.video_bitrate_kbps if session is not None else None
    if not inbound:
        return variants
    declared = min(max(inbound, 50), 100_000)
    return tuple(
        replace(v, video_bitrate_kbps=declared)
        if v.passthrough and v.video_bitrate_kbps is None
        else v
        for v in variants
    )


def ladder_output(stream: LiveStream, *, with_audio: bool = True) -> engine.HlsLadderOutput:
    """The HLS ladder output of the stream's transcode, into `hls_dir(stream)`."""
    segment_seconds, list_size = engine_ladder.latency_window(stream.latency_level)
    return engine.HlsLadderOutput(
        directory=str(hls_dir(stream)),
        variants=variants_of(stream),
        segment_seconds=segment_seconds,
        list_size=list_size,
        with_audio=with_audio,
    )
