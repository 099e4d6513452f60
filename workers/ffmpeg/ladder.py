"""The HLS ladder: one ffmpeg that encodes every variant of a live stream for viewers.

The input's video is split once and each branch scaled and encoded by its own
encoder (a passthrough variant is the input's video copied); hlsenc writes them
all through `var_stream_map`: `index.m3u8` (the master) in the ladder's folder,
and each variant's playlist and segments in its own sub-folder. Keyframes are
forced on every segment boundary, at the same media times in every variant, and
nowhere else (GOP = segment, no scene-cut keyframes): a player that switches
variants lands on a keyframe, and every segment starts with one
(`independent_segments`).

Restream outputs and the recording are fed from the same process: they are tee
slaves that `select` the feed variant's streams (HlsLadderOutput.feed), so a
live stream is encoded once per variant whatever else it feeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workers.ffmpeg.escaping import tee_escape
from workers.ffmpeg.muxers import Target, target_for, tee_slave
from workers.ffmpeg.spec import MAX_VARIANTS, HlsLadderOutput, JobSpec, SpecError, VariantSpec

VIDEO_ENCODER = "libx264"
# veryfast: a few variants of a live stream on a small host. Never slower: an encoder that
# falls behind real time makes every viewer's playlist late.
VIDEO_PRESET = "veryfast"
AUDIO_SAMPLE_RATE = 48000
# What the master playlist declares for a passthrough whose bitrate nobody said: a high
# one, so players pick the source only when they have room for what a streamer may send.
PASSTHROUGH_DECLARED_KBPS = 6000

# Latency level (LiveStream.latency_level, 0-4) -> (segment seconds, segments listed).
# A segment is listed once it is complete, so publish-to-playlist latency is about one
# segment plus the encoder's delay: 1 s segments keep level 0 well under 4 s. Players
# start about three segments from the live edge, so the viewer's delay is roughly 3 x
# the segment length; the higher levels trade it for fewer requests and more slack for
# slow networks, up to Owncast's tolerant 6 s x 10 (a minute of buffer to rejoin).
# A window of at least 6 segments lets a player that stalls a few seconds still find
# the segment it asks for next (hlsenc also keeps one past the window: delete threshold).
LATENCY_WINDOWS: Mapping[int, tuple[int, int]] = {
    0: (1, 8),
    1: (2, 6),
    2: (3, 6),
    3: (4, 8),
    4: (6, 10),
}

_VARIANT_KEYS = frozenset(VariantSpec.__dataclass_fields__)


def latency_window(level: int) -> tuple[int, int]:
    """(segment seconds, playlist length) of a latency level."""
    try:
        return LATENCY_WINDOWS[level]
    except (KeyError, TypeError):
        raise SpecError("validation.out_of_range", field="latency_level", min=0, max=4) from None


def variants_from_json(value: Any) -> tuple[VariantSpec, ...]:
    """Variants from their JSON form (LiveStream.variants); errors name the item and field
    (`variants[1].width`). An empty list is allowed here: the caller picks a default."""
    if not isinstance(value, list):
        raise SpecError("spec.invalid_variants", field="variants")
    if len(value) > MAX_VARIANTS:
        raise SpecError("validation.out_of_range", field="variants", min=0, max=MAX_VARIANTS)
    variants = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise SpecError("spec.invalid_variant", field=f"variants[{index}]")
        unknown = sorted(set(item) - _VARIANT_KEYS)
        if unknown:
            raise SpecError("spec.unknown_field", field=f"variants[{index}].{unknown[0]}")
        known = {key: value for key, value in item.items() if value is not None}
        if "name" not in known:
            raise SpecError("validation.required", field=f"variants[{index}].name")
        try:
            variants.append(VariantSpec(**known))
        except SpecError as exc:
            field = str(exc.params.get("field", "variant")).removeprefix("variant")
            raise SpecError(
                exc.code, **{**exc.params, "field": f"variants[{index}]{field}"}
            ) from None
    return tuple(variants)


def variants_to_json(variants: Sequence[VariantSpec]) -> list[dict[str, Any]]:
    return [
        {key: getattr(variant, key) for key in VariantSpec.__dataclass_fields__}
        for variant in variants
    ]


def ladder_of(spec: JobSpec) -> HlsLadderOutput | None:
    """The spec's enabled ladder output, if it has one."""
    for output in spec.enabled_outputs:
        if isinstance(output, HlsLadderOutput):
            return output
    return None


def _filter_graph(ladder: HlsLadderOutput) -> str:
    """One split of the input's video, one scale (and fps) per encoded variant."""
    encoded = [i for i, v in enumerate(ladder.variants) if not v.passthrough]
    if not encoded:
        return ""
    chains = []
    if len(encoded) > 1:
        branches = "".join(f"[split{i}]" for i in encoded)
        chains.append(f"[0:v:0]split={len(encoded)}{branches}")
    for i in encoded:
        variant = ladder.variants[i]
        source = f"[split{i}]" if len(encoded) > 1 else "[0:v:0]"
        filters = [f"scale={variant.width or -2}:{variant.height}", "setsar=1"]
        if variant.fps:
            filters.append(f"fps={variant.fps:g}")
        # yuv420p: a 4:4:4 or RGB input would otherwise give High 4:4:4, which browsers
        # and Safari do not play (and the master's CODECS would say avc1.f4…).
        filters.append("format=yuv420p")
        chains.append(f"{source}{','.join(filters)}[video{i}]")
    return ";".join(chains)


def _video_args(index: int, variant: VariantSpec, segment_seconds: int) -> list[str]:
    spec = f":v:{index}"
    if variant.passthrough:
        # hlsenc leaves a variant without a bitrate out of the master playlist altogether,
        # and knows no copied stream's: -b on a copy sets the one it declares. The bsf
        # turns RTMP's avcC extradata into Annex B before hlsenc reads the master's CODECS
        # from it (an Annex B input passes through); a non-H.264 input fails here, at
        # start: HLS in MPEG-TS is H.264 (see VariantSpec).
        declared = variant.video_bitrate_kbps or PASSTHROUGH_DECLARED_KBPS
        return [
            f"-c{spec}", "copy",
            f"-b{spec}", f"{declared}k",
            f"-bsf{spec}", "h264_mp4toannexb",
        ]  # fmt: skip
    rate = variant.video_bitrate_kbps
    assert rate is not None  # VariantSpec requires it of an encode
    # The GOP is the segment: -g from the rate when it is known (at most 60 fps assumed
    # otherwise); the forced keyframes put the boundaries at the same times everywhere.
    gop = round((variant.fps or 60) * segment_seconds)
    return [
        f"-c{spec}", VIDEO_ENCODER,
        f"-preset{spec}", VIDEO_PRESET,
        f"-b{spec}", f"{rate}k",
        f"-maxrate{spec}", f"{rate}k",
        f"-bufsize{spec}", f"{rate * 2}k",
        f"-g{spec}", str(max(1, gop)),
        f"-sc_threshold{spec}", "0",
        f"-force_key_frames{spec}", f"expr:gte(t,n_forced*{segment_seconds})",
    ]  # fmt: skip


def _audio_args(index: int, variant: VariantSpec) -> list[str]:
    spec = f":a:{index}"
    return [
        f"-c{spec}", "aac",
        f"-b{spec}", f"{variant.audio_bitrate_kbps}k",
        f"-ar{spec}", str(AUDIO_SAMPLE_RATE),
        f"-ac{spec}", "2",
    ]  # fmt: skip


def ladder_output_args(spec: JobSpec, ladder: HlsLadderOutput, audio_second: bool) -> list[str]:
    """Everything after the inputs: filter graph, maps, encoders and the output(s)."""
    args: list[str] = []
    graph = _filter_graph(ladder)
    if graph:
        args += ["-filter_complex", graph]
    audio_source = "1:a:0" if audio_second else "0:a:0"
    for index, variant in enumerate(ladder.variants):
        args += ["-map", "0:v:0" if variant.passthrough else f"[video{index}]"]
        if ladder.with_audio:
            args += ["-map", audio_source]
    for index, variant in enumerate(ladder.variants):
        args += _video_args(index, variant, ladder.segment_seconds)
        if ladder.with_audio:
            args += _audio_args(index, variant)
    if not ladder.with_audio:
        args.append("-an")
    hls = target_for(ladder)
    others = [o for o in spec.enabled_outputs if o is not ladder]
    if not others:
        args += ["-f", hls.muxer]
        for key, value in hls.options.items():
            args += [f"-{key}", value]
        return [*args, hls.url]
    # FLV and Matroska slaves need codec headers up front; hlsenc's TS repeats them anyway.
    args += ["-flags:v", "+global_header"]
    if ladder.with_audio:
        args += ["-flags:a", "+global_header"]
    feed = ladder.feed
    select = f"v:{feed},a:{feed}" if ladder.with_audio else f"v:{feed}"
    slaves = [_ladder_slave(hls)]
    for output in others:
        target = target_for(output)
        slaves.append(
            tee_slave(Target(target.muxer, target.url, {"select": select, **target.options}))
        )
    return [*args, "-f", "tee", "|".join(slaves)]


def _ladder_slave(target: Target) -> str:
    # onfail=abort: viewers' HLS is the point of the process; without it the run fails and
    # the supervisor's restart (and a takeover's append) is the remedy, not a silent gap.
    options = {"f": target.muxer, **target.options, "onfail": "abort"}
    rendered = ":".join(f"{key}={tee_escape(tee_escape(value))}" for key, value in options.items())
    return f"[{rendered}]{tee_escape(target.url)}"
