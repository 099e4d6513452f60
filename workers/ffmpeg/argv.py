"""Build the ffmpeg argv for a JobSpec (masking: masking.py; warnings: preview_rules.py).

The argv is a list handed straight to execve: no shell ever parses it, and
every user value is exactly one element (or one escaped component of a tee
spec). Values that ffmpeg itself parses a second time get that parser's
escaping: tee slave specs (av_get_token), filter option values, the concat
list file. Paths are passed as `file:` URLs so a name can never look like an
option or another protocol.
"""

from __future__ import annotations

import os
from pathlib import Path

from workers.ffmpeg.egress import input_options
from workers.ffmpeg.escaping import file_url, filter_value_escape, tee_escape
from workers.ffmpeg.ladder import ladder_of, ladder_output_args
from workers.ffmpeg.masking import (
    SECRET_MASK,
    mask_argv,
    mask_secret,
    mask_text,
    mask_url,
    secret_variants,
)
from workers.ffmpeg.muxers import output_url, target_for, tee_slave
from workers.ffmpeg.preview_rules import PlatformRule, PreviewWarning, preview_warnings
from workers.ffmpeg.probe import LIBRARY_DEMUXERS
from workers.ffmpeg.spec import (
    AudioCodec,
    FileInput,
    FollowedHlsInput,
    JobSpec,
    PlaylistInput,
    ProfileSpec,
    RateControl,
    SpecError,
    TestPatternInput,
    UrlInput,
    UrlKind,
    VideoCodec,
)

# Kept importable from here: argv.py was one module before it was split.
__all__ = [
    "BASE_ARGS", "FFMPEG", "PROTOCOL_WHITELIST", "SECRET_MASK", "PlatformRule",
    "PreviewWarning", "build_argv", "file_url", "filter_value_escape", "mask_argv",
    "mask_secret", "mask_text", "mask_url", "output_url", "preview_warnings", "secret_variants",
    "tee_escape", "tee_slave", "write_concat_list",
]  # fmt: skip

FFMPEG = "ffmpeg"
BASE_ARGS = (
    "-hide_banner",
    "-nostdin",
    "-nostats",  # -nostats: progress comes from -progress, not stderr
    "-loglevel",
    "level+info",
    "-progress",
    "pipe:1",
    "-stats_period",
    "0.5",
    "-y",  # a resumed job rewrites its HLS playlist; callers choose fresh recording paths
)

PROTOCOL_WHITELIST: dict[UrlKind | str, str] = {
    "file": "file",
    UrlKind.RTMP: "rtmp,tcp",
    UrlKind.RTMPS: "rtmps,tcp,tls",
    UrlKind.SRT: "srt,udp",
    # http(s) may redirect across schemes; no `file`, so a remote playlist cannot read local
    # files. egress.input_options sends them through the egress proxy.
    UrlKind.HTTP: "http,https,tcp,tls",
    UrlKind.HTTPS: "http,https,tcp,tls",
    UrlKind.HLS: "hls,http,https,tcp,tls,crypto",
    UrlKind.UDP: "udp",
}
NETWORK_TIMEOUT_S = 10.0  # fail after 10 s of silence instead of hanging forever
STALL_MARGIN_S = 5.0  # how much longer than the stall timeout ffmpeg's own timeout is

OVERLAY_FILE = "overlay.txt"
PLAYLIST_FILE = "playlist.txt"
PLAYLIST_MEDIA_DIR = "media"


# ------------------------------------------------------------------ inputs


def _input_args(spec: JobSpec, workdir: Path, http_proxy: str | None) -> tuple[list[str], bool]:
    """Input options and `-i`s; returns (args, audio_is_second_input)."""
    src = spec.input
    args: list[str] = []
    if spec.paced:
        args.append("-re")
    if isinstance(src, TestPatternInput):
        common = f"size={src.width}x{src.height}:rate={src.rate}"
        duration = f":duration={src.duration_s:g}" if src.duration_s is not None else ""
        args += ["-f", "lavfi", "-i", f"{src.pattern.value}={common}{duration}"]
        if src.with_audio:
            if spec.paced:
                args.append("-re")
            tone = f"sine=frequency={src.tone_hz}:sample_rate=48000{duration}"
            args += ["-f", "lavfi", "-i", tone]
        return args, src.with_audio
    if isinstance(src, FileInput | PlaylistInput):
        if spec.loop:
            args += ["-stream_loop", "-1"]
        if spec.start_offset_s:
            args += ["-ss", f"{spec.start_offset_s:.3f}"]
        args += ["-protocol_whitelist", PROTOCOL_WHITELIST["file"]]
        args += ["-format_whitelist", _file_demuxers(src)]
        if isinstance(src, FileInput):
            args += ["-i", file_url(src.path)]
        else:
            args += ["-f", "concat", "-safe", "1", "-i", file_url(write_concat_list(src, workdir))]
        return args, False
    if isinstance(src, FollowedHlsInput):
        # Local files only, as the hls and mpegts demuxers (its segments inherit both
        # lists); from the newest segment, so a reader (re)started joins the live edge.
        args += ["-protocol_whitelist", PROTOCOL_WHITELIST["file"]]
        args += ["-format_whitelist", "hls,mpegts", "-f", "hls", "-live_start_index", "-1"]
        args += ["-i", file_url(src.playlist)]
        return args, False
    assert isinstance(src, UrlInput)
    assert src.url_kind is not None
    args += ["-rw_timeout", network_timeout_us(spec)]
    args += input_options(src.url, PROTOCOL_WHITELIST[src.url_kind].split(","), http_proxy)
    args += ["-i", src.url]
    return args, False


def _file_demuxers(src: FileInput | PlaylistInput) -> str:
    """The demuxers a local file may be opened with: media containers, never a format that
    names other files (hls, concat, image2…), whatever the file's name or content says.

    A playlist needs `concat` for its own list, and its entries inherit the whitelist; a
    nested concat script can then name only other entries (safe mode: relative names,
    resolved in the run folder's media/), and confine.py keeps the process to its inputs.
    """
    names = LIBRARY_DEMUXERS if isinstance(src, FileInput) else ("concat", *LIBRARY_DEMUXERS)
    return ",".join(names)


def network_timeout_us(spec: JobSpec) -> str:
    """ffmpeg's own timeout for a network input that sends nothing, in microseconds.

    ffmpeg gives up on a silent connection after -rw_timeout and exits failed; the
    supervisor kills a process that makes no progress for the job's stall timeout.
    The shorter one wins, so a stall timeout longer than ffmpeg's 10 s never applied
    to a silent input: ffmpeg failed first, at every reconnect again. So ffmpeg's
    timeout stays past the stall timeout, and is the backstop only without one.
    """
    seconds = NETWORK_TIMEOUT_S
    if spec.stall_timeout_s is not None:
        seconds = max(seconds, spec.stall_timeout_s + STALL_MARGIN_S)
    return str(round(seconds * 1_000_000))


def write_concat_list(src: PlaylistInput, workdir: Path) -> Path:
    """Write the concat list so that it is valid under `-safe 1`.

    Safe mode accepts only relative names made of [A-Za-z0-9_-] and dots, so each
    entry is a symlink with a generated name (`media/00000.mp4`) to the real file.
    Entries are still single-quoted with `'` written as `'\\''` in case that ever changes.
    """
    media = workdir / PLAYLIST_MEDIA_DIR
    media.mkdir(parents=True, exist_ok=True)
    lines = ["ffconcat version 1.0"]
    order = list(range(len(src.paths)))
    order = order[src.first :] + order[: src.first]
    for index, path in enumerate(src.ordered_paths):
        suffix = Path(path).suffix.lower()
        if not (suffix[1:].isascii() and suffix[1:].isalnum() and len(suffix) <= 6):
            suffix = ""
        link = media / f"{index:05d}{suffix}"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.abspath(path))
        entry = f"{PLAYLIST_MEDIA_DIR}/{link.name}".replace("'", "'\\''")
        lines.append(f"file '{entry}'")
        inpoint = src.inpoints[order[index]] if src.inpoints else None
        outpoint = src.outpoints[order[index]] if src.outpoints else None
        if inpoint:
            lines.append(f"inpoint {inpoint:.3f}")
        if outpoint is not None:
            lines.append(f"outpoint {outpoint:.3f}")
    target = workdir / PLAYLIST_FILE
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


# ------------------------------------------------------------------ encoding


def _video_filters(spec: JobSpec, workdir: Path) -> list[str]:
    profile = spec.profile
    filters: list[str] = []
    if profile.width or profile.height:
        filters.append(f"scale={profile.width or -2}:{profile.height or -2}")
    if profile.fps:
        filters.append(f"fps={profile.fps:g}")
    if spec.overlay is not None:
        overlay = spec.overlay
        text_file = workdir / OVERLAY_FILE
        text_file.write_text(overlay.text, encoding="utf-8")
        options = [
            f"textfile={filter_value_escape(os.path.abspath(text_file))}",
            "expansion=none",
            f"x={overlay.x}",
            f"y={overlay.y}",
            f"fontsize={overlay.font_size}",
            f"fontcolor={overlay.font_color}",
        ]
        if overlay.box:
            options += ["box=1", f"boxcolor={overlay.box_color}", "boxborderw=8"]
        if overlay.live_reload:
            options.append("reload=1")
        filters.append("drawtext=" + ":".join(options))
    if profile.video_codec.family == "vaapi":
        filters += ["format=nv12", "hwupload"]
    elif profile.video_codec.family == "qsv":
        filters.append("format=nv12")
    return filters


def _video_args(spec: JobSpec, workdir: Path) -> list[str]:
    profile = spec.profile
    if profile.video_codec is VideoCodec.COPY:
        return ["-c:v", "copy"]  # filters cannot apply; preview_warnings says so
    args: list[str] = []
    if profile.video_codec.family == "vaapi":
        args += ["-vaapi_device", profile.vaapi_device]
    filters = _video_filters(spec, workdir)
    if filters:
        args += ["-vf", ",".join(filters)]
    args += ["-c:v", profile.video_codec.value]
    if profile.preset:
        args += ["-preset", profile.preset]
    for option, value in (("-tune", profile.tune), ("-profile:v", profile.profile)):
        if value:
            args += [option, value]
    if profile.level:
        args += ["-level:v", profile.level]
    if profile.pix_fmt and profile.video_codec.family == "x26x":
        args += ["-pix_fmt", profile.pix_fmt]
    args += _rate_args(profile)
    if profile.keyframe_interval_s:
        interval = profile.keyframe_interval_s
        # force_key_frames works without knowing the frame rate; -g caps it when we do.
        args += ["-force_key_frames", f"expr:gte(t,n_forced*{interval:g})"]
        if profile.fps:
            args += ["-g", str(max(1, round(profile.fps * interval)))]
        if profile.video_codec is VideoCodec.LIBX264:
            args += ["-sc_threshold", "0"]  # no extra scene-cut keyframes between forced ones
    return args


def _rate_args(profile: ProfileSpec) -> list[str]:
    rate = profile.video_bitrate_kbps
    maxrate = profile.maxrate_kbps
    if profile.rate_control is RateControl.CBR:
        assert rate is not None
        bufsize = profile.bufsize_kbps or rate * 2
        return [
            "-b:v",
            f"{rate}k",
            "-minrate",
            f"{rate}k",
            "-maxrate",
            f"{rate}k",
            "-bufsize",
            f"{bufsize}k",
        ]
    args: list[str] = []
    if profile.rate_control is RateControl.VBR:
        args += ["-b:v", f"{rate}k"]
    elif profile.video_codec.family in ("x26x", "qsv", "vaapi"):
        args += [
            "-crf" if profile.video_codec.family == "x26x" else "-global_quality",
            str(profile.crf),
        ]
    else:
        args += ["-rc", "vbr", "-cq", str(profile.crf)]  # nvenc's constant-quality mode
    if maxrate:
        args += ["-maxrate", f"{maxrate}k", "-bufsize", f"{profile.bufsize_kbps or maxrate * 2}k"]
    return args


def _audio_args(profile: ProfileSpec) -> list[str]:
    if profile.audio_codec is AudioCodec.NONE:
        return ["-an"]
    if profile.audio_codec is AudioCodec.COPY:
        return ["-c:a", "copy"]
    args = ["-c:a", profile.audio_codec.value]
    if profile.audio_bitrate_kbps:
        args += ["-b:a", f"{profile.audio_bitrate_kbps}k"]
    if profile.audio_sample_rate:
        args += ["-ar", str(profile.audio_sample_rate)]
    if profile.audio_channels:
        args += ["-ac", str(profile.audio_channels)]
    return args


# ------------------------------------------------------------------ outputs


def _output_args(spec: JobSpec, audio_second: bool) -> list[str]:
    outputs = spec.enabled_outputs
    if not outputs:
        raise SpecError("spec.no_enabled_outputs")
    args = ["-map", "0:v:0?", "-map", "1:a:0" if audio_second else "0:a:0?"]
    if spec.output_ts_offset_s:
        args += ["-output_ts_offset", f"{spec.output_ts_offset_s:.6f}"]
    if spec.title is not None:
        args += ["-metadata", f"title={spec.title}"]
    targets = [target_for(output) for output in outputs]
    if len(targets) == 1:
        target = targets[0]
        args += ["-f", target.muxer]
        for key, value in target.options.items():
            args += [f"-{key}", value]
        return [*args, target.url]
    if spec.profile.video_codec is not VideoCodec.COPY:
        # FLV and MP4 slaves need codec headers up front; the tee shares one encoder.
        args += ["-flags:v", "+global_header"]
    if spec.profile.audio_codec not in (AudioCodec.COPY, AudioCodec.NONE):
        args += ["-flags:a", "+global_header"]
    return [*args, "-f", "tee", "|".join(tee_slave(t) for t in targets)]


def build_argv(
    spec: JobSpec, workdir: Path, ffmpeg: str = FFMPEG, *, http_proxy: str | None = None
) -> list[str]:
    """The full argv. Writes helper files (concat list, overlay text) into `workdir`.

    An http(s) input goes through `http_proxy`, by default this process's egress
    proxy (egress.py); the command preview passes a placeholder instead.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    input_args, audio_second = _input_args(spec, workdir, http_proxy)
    ladder = ladder_of(spec)
    if ladder is not None:
        # The ladder's variants carry their own encodes; the profile's do not apply.
        return [
            ffmpeg,
            *BASE_ARGS,
            *input_args,
            *ladder_output_args(spec, ladder, audio_second),
        ]
    return [
        ffmpeg,
        *BASE_ARGS,
        *input_args,
        *_video_args(spec, workdir),
        *_audio_args(spec.profile),
        *_output_args(spec, audio_second),
    ]
