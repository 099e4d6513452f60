"""Plain-language warnings about likely mistakes in a spec, for the command preview."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workers.ffmpeg.muxers import target_for
from workers.ffmpeg.spec import (
    AudioCodec,
    HlsLadderOutput,
    HlsOutput,
    JobSpec,
    OutputSpec,
    ProfileSpec,
    RateControl,
    RtmpOutput,
    SrtOutput,
    UdpOutput,
    VideoCodec,
)


@dataclass(frozen=True)
class PreviewWarning:
    """A likely mistake in a spec. `code` and `params` are the contract; `message` is English."""

    code: str
    params: dict[str, object]
    message: str


@dataclass(frozen=True)
class PlatformRule:
    """What one platform's ingest accepts. The catalogue (apps/integrations/platforms)
    owns the data; the engine only applies it, so it stays Django-free."""

    name: str
    host_suffixes: tuple[str, ...]
    keyframe_interval_s: float
    # (max height, max video kbps), first row whose height >= output height applies.
    max_kbps_by_height: tuple[tuple[int, int], ...]
    requires_rtmps: bool = False
    # Codec families as the preview names them ("h264", "hevc"; "aac", "mp3", "opus").
    video_codecs: tuple[str, ...] = ("h264",)
    audio_codecs: tuple[str, ...] = ("aac",)
    audio_sample_rates: tuple[int, ...] = (44100, 48000)


FLV_AUDIO_RATES = (44100, 48000)
# Outputs that viewers or servers consume as it is made; a file output can take any pace.
LIVE_OUTPUTS = (RtmpOutput, SrtOutput, UdpOutput, HlsOutput, HlsLadderOutput)
# What each muxer in ffmpeg 5.1 refuses outright (the header write fails).
_CONTAINER_REJECTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "flv": (frozenset({"hevc"}), frozenset({"opus"})),
    "hls": (frozenset(), frozenset()),
    "mpegts": (frozenset(), frozenset()),
    "mp4": (frozenset(), frozenset()),
    "matroska": (frozenset(), frozenset()),
    "mov": (frozenset(), frozenset({"opus"})),
}


def platform_for(output: OutputSpec, platforms: Sequence[PlatformRule]) -> PlatformRule | None:
    if not isinstance(output, RtmpOutput):
        return None
    host = output.hostname
    for rule in platforms:
        if any(host == s or host.endswith("." + s) for s in rule.host_suffixes):
            return rule
    return None


def _warn(code: str, message: str, **params: object) -> PreviewWarning:
    return PreviewWarning(code=f"preview.{code}", params=params, message=message)


def preview_warnings(
    spec: JobSpec,
    available_encoders: frozenset[str] | None = None,
    platforms: Sequence[PlatformRule] = (),
) -> list[PreviewWarning]:
    """Plain-language warnings for the command preview; never includes secrets.

    `platforms` are the ingest rules to check outputs against, matched by host.
    """
    profile = spec.profile
    out: list[PreviewWarning] = []
    copy = profile.video_codec is VideoCodec.COPY
    if copy and (profile.has_video_filters or spec.overlay is not None):
        out.append(
            _warn(
                "filters_with_copy",
                "Resize, frame rate and overlay text need re-encoding; with video codec "
                "'copy' they are ignored.",
            )
        )
    if (
        available_encoders is not None
        and not copy
        and profile.video_codec.value not in available_encoders
    ):
        out.append(
            _warn(
                "encoder_unavailable",
                f"This FFmpeg build has no '{profile.video_codec.value}' encoder.",
                encoder=profile.video_codec.value,
            )
        )
    if not spec.enabled_outputs:
        out.append(_warn("no_enabled_outputs", "Every output is disabled; nothing would be sent."))
    video_codec = "hevc" if profile.video_codec.is_hevc else "h264"
    audio_codec = {AudioCodec.LIBOPUS: "opus", AudioCodec.LIBMP3LAME: "mp3"}.get(
        profile.audio_codec, profile.audio_codec.value
    )
    for index, output in enumerate(spec.enabled_outputs):
        if isinstance(output, LIVE_OUTPUTS) and spec.input.recorded and not spec.paced:
            out.append(
                _warn(
                    "unpaced_live_output",
                    f"Output {index + 1} is live ({output.kind.value.upper()}), but real-time "
                    "pacing is off: the input is read as fast as FFmpeg can, so viewers get "
                    "several seconds of video per second and players stall or skip. Turn "
                    "real-time pacing on; leave it off only for file-to-file work.",
                    output=index,
                    kind=output.kind.value,
                )
            )
        target = target_for(output)
        bad_video, bad_audio = _CONTAINER_REJECTS.get(target.muxer, (frozenset(), frozenset()))
        for kind, codec, bad in (
            ("video", video_codec, bad_video),
            ("audio", audio_codec, bad_audio),
        ):
            if not (kind == "video" and copy) and codec in bad:
                out.append(
                    _warn(
                        "codec_not_allowed_in_container",
                        f"Output {index + 1} uses the {target.muxer.upper()} container, which "
                        f"cannot carry {codec}; FFmpeg will refuse to start it.",
                        output=index,
                        container=target.muxer,
                        codec=codec,
                    )
                )
        if target.muxer == "flv" and profile.audio_codec not in (AudioCodec.COPY, AudioCodec.NONE):
            rate = profile.audio_sample_rate
            if rate is not None and rate not in FLV_AUDIO_RATES:
                out.append(
                    _warn(
                        "audio_sample_rate",
                        f"RTMP/FLV ingest expects 44100 or 48000 Hz audio; {rate} Hz is rejected "
                        "or resampled badly by most servers.",
                        output=index,
                        sample_rate=rate,
                        allowed=list(FLV_AUDIO_RATES),
                    )
                )
        rule = platform_for(output, platforms)
        if rule is not None:
            out += _platform_warnings(index, output, profile, rule, video_codec, audio_codec)
    return out


def _platform_warnings(
    index: int,
    output: OutputSpec,
    profile: ProfileSpec,
    rule: PlatformRule,
    video_codec: str,
    audio_codec: str,
) -> list[PreviewWarning]:
    out: list[PreviewWarning] = []
    for kind, codec, allowed, passthrough in (
        ("video", video_codec, rule.video_codecs, profile.video_codec is VideoCodec.COPY),
        ("audio", audio_codec, rule.audio_codecs, profile.audio_codec is AudioCodec.COPY),
    ):
        if not passthrough and codec != "none" and codec not in allowed:
            out.append(
                _warn(
                    "platform_codec",
                    f"{rule.name.title()} accepts {kind} in {', '.join(allowed)}; this profile "
                    f"sends {codec}.",
                    output=index,
                    platform=rule.name,
                    kind=kind,
                    codec=codec,
                    allowed=list(allowed),
                )
            )
    rate = profile.audio_sample_rate
    if (
        profile.audio_codec not in (AudioCodec.COPY, AudioCodec.NONE)
        and rate is not None
        and rate not in rule.audio_sample_rates
    ):
        out.append(
            _warn(
                "platform_audio_sample_rate",
                f"{rule.name.title()} expects audio at "
                f"{' or '.join(str(r) for r in rule.audio_sample_rates)} Hz; this profile "
                f"uses {rate} Hz.",
                output=index,
                platform=rule.name,
                sample_rate=rate,
                allowed=list(rule.audio_sample_rates),
            )
        )
    if (
        profile.video_codec is not VideoCodec.COPY
        and profile.keyframe_interval_s != rule.keyframe_interval_s
    ):
        out.append(
            _warn(
                "keyframe_interval",
                f"{rule.name.title()} expects a keyframe every {rule.keyframe_interval_s:g} s; "
                "this "
                f"profile uses {profile.keyframe_interval_s or 'the encoder default'}.",
                output=index,
                platform=rule.name,
                expected_s=rule.keyframe_interval_s,
                actual_s=profile.keyframe_interval_s,
            )
        )
    bitrate = profile.maxrate_kbps or profile.video_bitrate_kbps
    if (
        profile.video_codec is not VideoCodec.COPY
        and bitrate
        and profile.rate_control is not RateControl.CRF
    ):
        height = profile.height or 1080
        limit = next((kbps for h, kbps in rule.max_kbps_by_height if height <= h), None)
        if limit is not None and bitrate > limit:
            out.append(
                _warn(
                    "bitrate_above_platform_max",
                    f"{rule.name.title()} recommends at most {limit} kbps at {height}p; this "
                    f"profile sends {bitrate} kbps, which may be dropped or cause buffering.",
                    output=index,
                    platform=rule.name,
                    bitrate_kbps=bitrate,
                    max_kbps=limit,
                    height=height,
                )
            )
    if rule.requires_rtmps and isinstance(output, RtmpOutput) and output.url.startswith("rtmp:"):
        out.append(
            _warn(
                "rtmps_required",
                f"{rule.name.title()} accepts only RTMPS (rtmps://) ingest.",
                output=index,
                platform=rule.name,
            )
        )
    return out
