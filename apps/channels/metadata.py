"""Guide text from a media item: title, episode numbers and category from its path.

Titles, categories and episode numbers come from the conventions media libraries
are organised by: `Show/Season 1/Show - S01E02 - Title.mkv`, `Films/Title (1999).mp4`;
descriptions from the container's tags as the scan probed them (DESCRIPTION_TAGS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_EPISODE = re.compile(r"[Ss](\d{1,3})[ ._-]?[Ee](\d{1,4})")
_SEPARATORS = re.compile(r"[._]+")


@dataclass(frozen=True, slots=True)
class GuideText:
    title: str
    sub_title: str = ""
    category: str = ""
    season: int | None = None
    episode: int | None = None

    @property
    def xmltv_ns(self) -> str:
        """xmltv_ns numbering: zero-based "season.episode.part"."""
        if self.episode is None:
            return ""
        season = "" if self.season is None else str(self.season - 1)
        return f"{season}.{self.episode - 1}."

    @property
    def onscreen(self) -> str:
        if self.episode is None:
            return ""
        return f"S{self.season or 0:02d}E{self.episode:02d}"


#: Container tags a description is read from, the first one set winning.
DESCRIPTION_TAGS = ("description", "synopsis", "comment")


def description_from_tags(tags: object) -> str:
    """The guide's description of a media item, from its probed container tags."""
    if not isinstance(tags, dict):
        return ""
    for name in DESCRIPTION_TAGS:
        value = tags.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _clean(text: str) -> str:
    return " ".join(_SEPARATORS.sub(" ", text).split()).strip(" -")


@lru_cache(maxsize=8192)
def guide_text(relpath: str) -> GuideText:
    """What the guide says about the file at `relpath` (relative to its source)."""
    parts = [p for p in relpath.split("/") if p]
    if not parts:
        return GuideText(title="")
    stem = parts[-1].rsplit(".", 1)[0] if "." in parts[-1] else parts[-1]
    folders = parts[:-1]
    category = _clean(folders[0]) if folders else ""
    match = _EPISODE.search(stem)
    if match is None:
        return GuideText(title=_clean(stem) or parts[-1], category=category)
    season, episode = int(match.group(1)), int(match.group(2))
    show = _clean(stem[: match.start()]) or (category if folders else "")
    episode_title = _clean(stem[match.end() :])
    return GuideText(
        title=show or episode_title or _clean(stem),
        sub_title=episode_title if show else "",
        category=category,
        season=season,
        episode=episode,
    )
