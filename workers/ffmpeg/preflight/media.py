"""Checks of FFmpeg itself, its encoders, the input, and codec/container fit."""

from __future__ import annotations

import os
import subprocess
import urllib.parse
from collections.abc import Sequence
from typing import Any

from workers.ffmpeg.argv import PROTOCOL_WHITELIST, mask_text
from workers.ffmpeg.preflight.results import CheckResult, PreflightOptions, Status
from workers.ffmpeg.preflight.results import result as _check
from workers.ffmpeg.probe import (
    LIBRARY_DEMUXERS,
    ProbeError,
    ProbeErrorCode,
    ProbeResult,
    probe,
    run_bounded,
)
from workers.ffmpeg.spec import (
    AudioCodec,
    FileInput,
    FollowedHlsInput,
    HlsLadderOutput,
    HlsOutput,
    JobSpec,
    OutputSpec,
    PlaylistInput,
    RtmpOutput,
    SrtOutput,
    TestPatternInput,
    UdpOutput,
    UrlInput,
    UrlKind,
    VideoCodec,
    list_encoders,
)

# ------------------------------------------------------------------ ffmpeg and encoders


def check_ffmpeg(ffmpeg: str) -> CheckResult:
    try:
        # Confined to the system's files, as every ffmpeg (confine.py).
        returncode, out, _err = run_bounded([ffmpeg, "-hide_banner", "-version"], timeout=10)
    except OSError as exc:  # a missing binary; TimeoutError is one too
        return _check(
            "ffmpeg",
            Status.RED,
            "preflight.ffmpeg_missing",
            "FFmpeg could not be run on this worker.",
            error=type(exc).__name__,
        )
    stdout = out.decode("utf-8", "replace")
    first = stdout.splitlines()[0] if stdout else ""
    words = first.split()
    version = words[2] if len(words) > 2 and words[:2] == ["ffmpeg", "version"] else "unknown"
    if returncode != 0:
        return _check(
            "ffmpeg",
            Status.RED,
            "preflight.ffmpeg_missing",
            "FFmpeg exited with an error when asked for its version.",
            returncode=returncode,
        )
    major = version.split(".", 1)[0]
    if major.isdigit() and int(major) < 5:
        return _check(
            "ffmpeg",
            Status.YELLOW,
            "preflight.ffmpeg_old",
            f"FFmpeg {version} is older than 5.0; some options may not work.",
            version=version,
        )
    return _check(
        "ffmpeg", Status.GREEN, "preflight.ffmpeg_ok", f"FFmpeg {version}.", version=version
    )


def check_encoders(spec: JobSpec, ffmpeg: str) -> CheckResult:
    profile = spec.profile
    wanted = []
    if profile.video_codec is not VideoCodec.COPY:
        wanted.append(profile.video_codec.value)
    if profile.audio_codec not in (AudioCodec.COPY, AudioCodec.NONE):
        wanted.append(profile.audio_codec.value)
    if not wanted:
        return _check(
            "encoders", Status.GREEN, "preflight.encoders_ok", "No encoding: streams are copied."
        )
    try:
        available = {info.name: info for info in list_encoders(ffmpeg)}
    except (OSError, subprocess.SubprocessError) as exc:
        return _check(
            "encoders",
            Status.RED,
            "preflight.encoder_missing",
            "The list of encoders could not be read from FFmpeg.",
            encoders=wanted,
            error=type(exc).__name__,
        )
    missing = [name for name in wanted if name not in available]
    if missing:
        return _check(
            "encoders",
            Status.RED,
            "preflight.encoder_missing",
            f"This FFmpeg build has no {', '.join(missing)} encoder.",
            encoders=missing,
        )
    hardware = [name for name in wanted if available[name].hardware]
    if hardware:
        return _check(
            "encoders",
            Status.YELLOW,
            "preflight.hardware_encoder_unverified",
            f"{', '.join(hardware)} is listed, but only a dry-run proves the hardware works here.",
            encoders=hardware,
        )
    return _check(
        "encoders", Status.GREEN, "preflight.encoders_ok", "Encoders available.", encoders=wanted
    )


# ------------------------------------------------------------------ input

_UNREACHABLE = {
    ProbeErrorCode.ADDRESS_NOT_ALLOWED,
    ProbeErrorCode.NOT_FOUND,
    ProbeErrorCode.PERMISSION_DENIED,
    ProbeErrorCode.NOT_REGULAR_FILE,
    ProbeErrorCode.TIMEOUT,
    ProbeErrorCode.PROTOCOL_NOT_ALLOWED,
    ProbeErrorCode.UNAVAILABLE,
    ProbeErrorCode.FAILED,
}


def _input_target(spec: JobSpec) -> tuple[str, Sequence[str], dict[str, Any]]:
    """(target, protocol whitelist, secret-free params describing the input)."""
    src = spec.input
    if isinstance(src, UrlInput):
        parts = urllib.parse.urlsplit(src.url)
        kind = src.url_kind or UrlKind(parts.scheme)
        return (
            src.url,
            PROTOCOL_WHITELIST[kind].split(","),
            {"kind": "url", "scheme": parts.scheme, "host": parts.hostname or ""},
        )
    assert isinstance(src, FileInput)
    return src.path, ("file",), {"kind": "file", "path": src.path}


def _safe_detail(detail: str, spec: JobSpec) -> str:
    """ffprobe's last words, without secrets: an RTMP/SRT input URL's path is often a key."""
    src = spec.input
    if isinstance(src, UrlInput):
        parts = urllib.parse.urlsplit(src.url)
        redacted = f"{parts.scheme}://{parts.hostname or ''}/…"
        for variant in (src.url, parts.path, parts.query):
            if len(variant) > 1:
                detail = detail.replace(variant, redacted if variant == src.url else "/…")
    return mask_text(detail, spec.secrets())[-200:]


def check_input(spec: JobSpec, options: PreflightOptions) -> tuple[CheckResult, ProbeResult | None]:
    src = spec.input
    if isinstance(src, TestPatternInput):
        return _check(
            "input",
            Status.GREEN,
            "preflight.input_ok",
            "Test pattern generated by FFmpeg.",
            kind="test_pattern",
        ), None
    if isinstance(src, FollowedHlsInput):
        # A channel's relay: the channel's own HLS, written while the channel plays.
        if os.path.isfile(src.playlist):
            return _check(
                "input", Status.GREEN, "preflight.input_ok",
                "The channel's own HLS, followed from its newest segment.", kind="followed_hls",
            ), None  # fmt: skip
        return _check(
            "input", Status.YELLOW, "preflight.input_no_data",
            "The channel has written no HLS yet; the relay waits for it.", kind="followed_hls",
        ), None  # fmt: skip
    if isinstance(src, PlaylistInput):
        missing = [i for i, path in enumerate(src.paths) if not os.path.isfile(path)]
        if missing:
            return _check(
                "input",
                Status.RED,
                "preflight.input_unreachable",
                f"{len(missing)} of {len(src.paths)} playlist files are missing.",
                kind="playlist",
                missing=len(missing),
                first_missing_index=missing[0],
                reason=ProbeErrorCode.NOT_FOUND.value,
            ), None
        target: str = src.paths[0]
        protocols: Sequence[str] = ("file",)
        params: dict[str, Any] = {"kind": "playlist", "files": len(src.paths)}
    else:
        target, protocols, params = _input_target(spec)
    try:
        result = probe(
            target,
            timeout=options.probe_timeout_s,
            protocols=protocols,
            # A file is opened with the job's demuxers (argv._file_demuxers); a URL with any.
            formats=LIBRARY_DEMUXERS if protocols == ("file",) else None,
            ffprobe=options.ffprobe,
        )
    except ProbeError as exc:
        reason = ProbeErrorCode(exc.code) if exc.code in set(ProbeErrorCode) else None
        live_udp = isinstance(src, UrlInput) and src.url_kind is UrlKind.UDP
        if reason is ProbeErrorCode.TIMEOUT and live_udp:
            return _check(
                "input",
                Status.YELLOW,
                "preflight.input_no_data",
                "No data arrived on the UDP input yet; start the sender before the job.",
                **params,
            ), None
        code = (
            "preflight.input_unreachable" if reason in _UNREACHABLE else "preflight.input_invalid"
        )
        detail = _safe_detail(exc.detail, spec)
        message = (
            "The input could not be opened."
            if code.endswith("unreachable")
            else "The input was opened but holds no usable media."
        )
        return _check(
            "input", Status.RED, code, message, reason=exc.code, detail=detail, **params
        ), None
    video = result.video_streams[0].codec if result.video_streams else None
    audio = result.audio_streams[0].codec if result.audio_streams else None
    params.update(container=result.container, video_codec=video, audio_codec=audio)
    if video is None:
        return _check(
            "input",
            Status.YELLOW,
            "preflight.input_no_video",
            "The input has no video stream.",
            **params,
        ), result
    return _check(
        "input", Status.GREEN, "preflight.input_ok", "Input opened and probed.", **params
    ), result


# ------------------------------------------------------------------ codecs and containers

# What each muxer accepts for stream jobs, as FFmpeg 5.1 and the ingest side see it.
# None: anything. FLV: RTMP platforms take H.264 + AAC only (5.1's FLV refuses HEVC
# and Opus outright); HLS players need H.264/HEVC + AAC.
_ALLOWED: dict[str, tuple[frozenset[str] | None, frozenset[str] | None]] = {
    "flv": (frozenset({"h264"}), frozenset({"aac", "mp3"})),
    "hls": (frozenset({"h264", "hevc"}), frozenset({"aac"})),
    "mpegts": (
        frozenset({"h264", "hevc", "mpeg2video", "mpeg1video"}),
        frozenset({"aac", "mp3", "mp2", "ac3", "eac3", "opus"}),
    ),
    "mov": (None, frozenset({"aac", "mp3", "alac", "pcm_s16le", "ac3"})),
}
_ENCODED_AUDIO = {AudioCodec.AAC: "aac", AudioCodec.LIBOPUS: "opus", AudioCodec.LIBMP3LAME: "mp3"}
UNKNOWN = "unknown"


def muxer_for(output: OutputSpec) -> str:
    """The ffmpeg muxer that writes `output` (as argv.py chooses it)."""
    if isinstance(output, RtmpOutput):
        return "flv"
    if isinstance(output, SrtOutput | UdpOutput):
        return "mpegts"
    if isinstance(output, HlsOutput | HlsLadderOutput):
        return "hls"
    return output.container.value


def needed_codecs(spec: JobSpec, probed: ProbeResult | None) -> tuple[str | None, str | None]:
    """(video, audio) codec names the outputs receive; None: no such stream."""
    profile = spec.profile
    pattern = isinstance(spec.input, TestPatternInput)
    if profile.video_codec is VideoCodec.COPY:
        if pattern:
            video: str | None = "rawvideo"
        elif probed is None:
            video = UNKNOWN
        else:
            video = probed.video_streams[0].codec if probed.video_streams else None
    else:
        video = "hevc" if profile.video_codec.is_hevc else "h264"
    if profile.audio_codec is AudioCodec.NONE:
        audio: str | None = None
    elif profile.audio_codec is AudioCodec.COPY:
        if pattern:
            audio = "pcm_s16le" if spec.input.with_audio else None  # type: ignore[union-attr]
        elif probed is None:
            audio = UNKNOWN
        else:
            audio = probed.audio_streams[0].codec if probed.audio_streams else None
    else:
        audio = _ENCODED_AUDIO[profile.audio_codec]
    return video, audio


def incompatibility(
    output: OutputSpec, video: str | None, audio: str | None
) -> tuple[Status, str, str] | None:
    """(status, codec, why) when `output`'s container cannot carry a stream."""
    allowed_video, allowed_audio = _ALLOWED.get(muxer_for(output), (None, None))
    if video and allowed_video is not None and video not in allowed_video:
        return Status.RED, video, f"cannot carry {video} video; use H.264."
    if audio and allowed_audio is not None and audio not in allowed_audio:
        return Status.RED, audio, f"cannot carry {audio} audio; use AAC."
    if audio == "mp3" and isinstance(output, RtmpOutput):
        return Status.YELLOW, audio, "carries MP3, but most RTMP platforms expect AAC."
    return None


def check_codecs(
    index: int, output: OutputSpec, spec: JobSpec, probed: ProbeResult | None
) -> CheckResult:
    muxer = muxer_for(output)
    video, audio = needed_codecs(spec, probed)
    base = {"output": index, "output_name": output.name, "container": muxer}
    if video == "unknown" or audio == "unknown":
        return _check(
            f"output.{index}.codecs",
            Status.YELLOW,
            "preflight.codec_unknown",
            f"Streams are copied from an input that could not be probed; output {index + 1} "
            f"({muxer}) may refuse them.",
            **base,
        )
    problem = incompatibility(output, video, audio)
    if problem is not None:
        status, codec, detail = problem
        return _check(
            f"output.{index}.codecs",
            status,
            "preflight.codec_container_mismatch",
            f"Output {index + 1} ({muxer}) {detail}",
            codec=codec,
            video_codec=video,
            audio_codec=audio,
            **base,
        )
    return _check(
        f"output.{index}.codecs",
        Status.GREEN,
        "preflight.codecs_ok",
        f"{video or 'no video'} + {audio or 'no audio'} fit {muxer}.",
        video_codec=video,
        audio_codec=audio,
        **base,
    )
