"""HLS files of a live stream as viewers fetch them: which names exist, how they are cached,
and the watch-link ticket carried from the master playlist down to every segment.

The URL space under `/live/{slug}/` is closed: the master `index.m3u8`, and
`{variant}/{file}` where the variant is a short folder name and the file a
playlist or a segment with a known extension. Anything else (dots, slashes,
`..`, other extensions) is a 404 before the disk is looked at, and the path is
checked again after resolving symlinks.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

PLAYLIST = "index.m3u8"
# Added to segment URIs in served media playlists: the publish session they belong to.
SESSION_PARAM = "s"
_VARIANT = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(ts|m4s|mp4|aac)$")
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPES = {
    "ts": "video/mp2t",
    "m4s": "video/iso.segment",
    "mp4": "video/mp4",
    "aac": "audio/aac",
}

# Playlists change every segment: `no-cache` lets a browser or CDN keep one but makes it
# ask (If-None-Match → 304) each time, so a player never waits on a stale list. max-age=1
# would save those requests but add up to a second to a 1-second-segment stream's latency.
PLAYLIST_CACHE = "no-cache"
# A segment's name is never reused for other bytes while it is listed (the transcode
# numbers them), so once fetched it never needs asking again.
SEGMENT_CACHE = "max-age=31536000, immutable"


def variant_file(root: Path, variant: str, name: str) -> Path | None:
    """The file `{variant}/{name}` under `root`, or None when the names are not ones HLS
    delivery serves or the path leaves `root`."""
    if not _VARIANT.match(variant) or not (name == PLAYLIST or _SEGMENT.match(name)):
        return None
    return inside(root, root / variant / name)


def inside(root: Path, path: Path) -> Path | None:
    """`path` once symlinks are resolved, if it is still under `root`."""
    try:
        resolved = path.resolve()
        resolved.relative_to(root.resolve())
    except (OSError, ValueError):
        return None
    return resolved


def segment_type(name: str) -> str:
    return SEGMENT_TYPES[name.rsplit(".", 1)[1]]


def with_query(playlist: str, params: dict[str, str]) -> str:
    """The playlist with `params` added to every URI it lists (variant playlists, segments,
    init segments, renditions): a player given one ticketed URL fetches everything below
    it with the same pass. Absolute URIs (another host, another path) are left alone."""
    suffix = urlencode(params)

    def add(uri: str) -> str:
        if "://" in uri or uri.startswith("/"):
            return uri
        return uri + ("&" if "?" in uri else "?") + suffix

    lines = []
    for line in playlist.splitlines():
        if line and not line.startswith("#"):
            line = add(line.strip())
        elif line.startswith("#") and 'URI="' in line:
            line = re.sub(r'URI="([^"]*)"', lambda m: f'URI="{add(str(m.group(1)))}"', line)
        lines.append(line)
    return "\n".join(lines) + "\n"
