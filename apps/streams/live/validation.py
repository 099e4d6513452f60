"""Checks of a live stream's own values: page content, summary, variants, SRT ports."""

from __future__ import annotations

from typing import Any

import nh3

from apps.streams.live import conf
from apps.streams.live.ladder import validate_variants
from apps.streams.live.models import LiveStream
from castcore.api.errors import Conflict


def clean_page_content(html: str) -> str:
    """The operator's HTML below the player, with scripts, handlers and unsafe URLs removed."""
    return nh3.clean(html or "", link_rel="noopener noreferrer nofollow")


def strip_markup(text: str) -> str:
    """Text with every tag removed by nh3 (a script's or style's content too), for fields that
    are text to CastCore but HTML to Owncast's clients (the summary) or CSS put inside a
    `<style>` (custom styles). Every `<` stays escaped, so no tag (no `</style>`) can come
    back wherever the text is put; `>` and `&` are given back (CSS child selectors, "R&D")."""
    return nh3.clean(text or "", tags=set()).replace("&gt;", ">").replace("&amp;", "&")


def check_variants(variants: Any) -> list[dict[str, Any]]:
    """The ladder as stored, checked by the engine's variant rules (400 naming the item)."""
    return validate_variants(variants)


def allocate_srt_port(*, exclude_stream: int | None) -> int:
    """The lowest free port of the SRT range; 409 when every one is taken.

    The unique constraint on srt_port settles two streams taking the same port at once.
    """
    first, last = conf.SRT_PORTS
    taken = set(
        LiveStream.objects.exclude(pk=exclude_stream or 0)
        .filter(srt_port__isnull=False)
        .values_list("srt_port", flat=True)
    )
    for port in range(first, last + 1):
        if port not in taken:
            return port
    raise Conflict("live_stream.no_srt_port", {"first": first, "last": last})
