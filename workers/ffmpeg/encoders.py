"""What encoders an ffmpeg build reports (`ffmpeg -encoders`)."""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass

_HW_SUFFIXES = ("_nvenc", "_qsv", "_vaapi", "_amf", "_v4l2m2m", "_videotoolbox", "_mf", "_omx")


@dataclass(frozen=True)
class EncoderInfo:
    name: str
    media: str  # "video", "audio" or "subtitle"
    description: str
    hardware: bool


def parse_encoders(text: str) -> tuple[EncoderInfo, ...]:
    """Parse `ffmpeg -hide_banner -encoders` output (the table after the `------` line)."""
    media_by_flag = {"V": "video", "A": "audio", "S": "subtitle"}
    found: list[EncoderInfo] = []
    in_table = False
    for line in text.splitlines():
        if line.strip().startswith("------"):
            in_table = True
            continue
        parts = line.split(None, 2)
        if not in_table or len(parts) < 2 or len(parts[0]) != 6 or parts[0][0] not in media_by_flag:
            continue
        name = parts[1]
        found.append(
            EncoderInfo(
                name=name,
                media=media_by_flag[parts[0][0]],
                description=parts[2] if len(parts) > 2 else "",
                hardware=name.endswith(_HW_SUFFIXES),
            )
        )
    return tuple(found)


@functools.lru_cache(maxsize=4)
def list_encoders(ffmpeg: str = "ffmpeg") -> tuple[EncoderInfo, ...]:
    """Encoders this ffmpeg build reports; cached per binary for the process lifetime.

    Listed is not usable: a hardware encoder appears even with no GPU present.
    A dry-run encode is the only proof that it works on this host.
    """
    from workers.ffmpeg.probe import run_bounded  # probe -> confine -> spec -> here

    argv = [ffmpeg, "-hide_banner", "-nostdin", "-encoders"]
    rc, out, err = run_bounded(argv, timeout=30)  # confined to the system's files
    if rc != 0:
        raise subprocess.CalledProcessError(rc, argv, out, err)
    return parse_encoders(out.decode("utf-8", "replace"))
