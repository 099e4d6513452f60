"""Where and how each output is written: its muxer, URL and muxer options, and tee slaves."""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from workers.ffmpeg.escaping import file_url, tee_escape
from workers.ffmpeg.spec import (
    FileOutput,
    HlsLadderOutput,
    HlsOutput,
    OutputSpec,
    RtmpOutput,
    SrtOutput,
    UdpOutput,
)

HLS_SEGMENT_NAME = "segment_%05d.ts"
# A ladder's master playlist, in its folder; each variant's, in the variant's sub-folder.
MASTER_PLAYLIST = "index.m3u8"
VARIANT_PLAYLIST = "index.m3u8"
_HLS_SEGMENT = re.compile(r"segment_\d{5,}\.ts")


@dataclass(frozen=True)
class Target:
    muxer: str
    url: str
    options: dict[str, str] = field(default_factory=dict)


def output_url(output: OutputSpec) -> str:
    """The URL ffmpeg writes to, secrets included (mask before showing it)."""
    if isinstance(output, RtmpOutput):
        if not output.stream_key:  # the key is in the URL's path (RtmpOutput.key_in_url)
            return output.url
        return output.url.rstrip("/") + "/" + output.stream_key
    if isinstance(output, SrtOutput):
        if not output.passphrase:
            return output.url
        sep = "&" if urllib.parse.urlsplit(output.url).query else "?"
        return f"{output.url}{sep}passphrase={urllib.parse.quote(output.passphrase, safe='')}"
    if isinstance(output, HlsOutput):
        return file_url(Path(output.directory) / output.playlist_name)
    if isinstance(output, HlsLadderOutput):
        return file_url(Path(output.directory) / MASTER_PLAYLIST)
    if isinstance(output, FileOutput):
        return file_url(output.path)
    return output.url


def target_for(output: OutputSpec) -> Target:
    url = output_url(output)
    if isinstance(output, RtmpOutput):
        return Target("flv", url, {"flvflags": "no_duration_filesize"})
    if isinstance(output, SrtOutput):
        return Target("mpegts", url)
    if isinstance(output, UdpOutput):
        return Target("mpegts", url)
    if isinstance(output, FileOutput):
        return Target(output.container.value, url)
    if isinstance(output, HlsLadderOutput):
        return ladder_target(output)
    flags = (
        "delete_segments+independent_segments" if output.delete_segments else "independent_segments"
    )
    if output.append:
        flags += "+append_list+discont_start+omit_endlist"
    if output.program_date_time:
        flags += "+program_date_time"
    return Target(
        "hls",
        url,
        {
            "hls_time": str(output.segment_seconds),
            "hls_list_size": str(output.list_size),
            "hls_flags": flags,
            "hls_segment_filename": hls_segment_template(output),
        },
    )


def ladder_target(ladder: HlsLadderOutput) -> Target:
    """The hlsenc output of a ladder (workers.ffmpeg.ladder): its URL and options."""
    audio = ladder.with_audio
    stream_map = " ".join(
        f"v:{i},a:{i},name:{v.name}" if audio else f"v:{i},name:{v.name}"
        for i, v in enumerate(ladder.variants)
    )
    folder = os.path.abspath(ladder.directory)
    # append_list: a process that finds the playlists of an earlier one (a takeover after
    # a dead worker) continues them: sequence numbers and segment names go on, and
    # hlsenc marks the join with EXT-X-DISCONTINUITY. Segments are plain paths for the
    # same reason as muxers.hls_segment_template (hlsenc unlinks them by that name).
    return Target(
        "hls",
        os.path.join(folder, "%v", VARIANT_PLAYLIST),
        {
            "hls_time": str(ladder.segment_seconds),
            "hls_list_size": str(ladder.list_size),
            "hls_flags": "delete_segments+independent_segments+append_list",
            "master_pl_name": MASTER_PLAYLIST,
            "var_stream_map": stream_map,
            "hls_segment_filename": os.path.join(folder, "%v", HLS_SEGMENT_NAME),
        },
    )


def hls_segment_template(output: HlsOutput) -> str:
    """Where an HLS output's segments go: a plain absolute path, not a `file:` URL.

    hlsenc deletes the segments that leave the window with unlink() on the name as
    given, so `file:/dir/segment_00001.ts` was never found: every deletion failed
    (logged as an error) and the folder grew without bound. A name that starts with
    `/` is a file to ffmpeg whatever follows, so it needs no `file:` to stay one.
    HlsOutput rejects `%` in the directory: it is the segment template character.
    """
    return os.path.join(os.path.abspath(output.directory), HLS_SEGMENT_NAME)


def is_hls_segment(name: str) -> bool:
    """Whether a file name in an HLS output's folder is one of CastCore's segments."""
    return _HLS_SEGMENT.fullmatch(name) is not None


def remove_hls_leftovers(output: HlsOutput) -> list[str]:
    """Delete the segments an earlier process left in the output's folder; returns failures.

    hlsenc deletes only the segments it wrote itself, and a new process numbers its
    own from 0 again: what an earlier process (a reconnect, a previous run) left at
    higher numbers would stay forever. Call it before the process starts; it touches
    only names of CastCore's own pattern, never the playlist or other files.
    """
    failed = []
    try:
        names = os.listdir(output.directory)
    except OSError:
        return []  # no folder yet: nothing was left
    listed: set[str] = set()
    if output.append:
        # The next process continues this playlist: what it lists stays for the players.
        try:
            with open(os.path.join(output.directory, output.playlist_name), encoding="utf-8") as f:
                listed = {line.strip() for line in f if is_hls_segment(line.strip())}
        except (OSError, UnicodeDecodeError):
            listed = set()
    for name in names:
        if is_hls_segment(name) and name not in listed:
            try:
                os.unlink(os.path.join(output.directory, name))
            except FileNotFoundError:
                pass
            except OSError as exc:
                failed.append(f"{name}: {exc.strerror}")
    return failed


def tee_slave(target: Target) -> str:
    """One tee slave: `[f=…:opt=…:onfail=ignore]url`, escaped for both parsing levels."""
    options = {"f": target.muxer, **target.options, "onfail": "ignore"}
    # The tee spec is split into slaves by av_get_token (one unescape), then each option
    # value is tokenised again (a second unescape); the URL after `]` only by the first.
    rendered = ":".join(f"{key}={tee_escape(tee_escape(value))}" for key, value in options.items())
    return f"[{rendered}]{tee_escape(target.url)}"
