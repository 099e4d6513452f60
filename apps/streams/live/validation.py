"""Checks of a live stream's own values: page content, variants, SRT ports."""

from __future__ import annotations

from typing import Any

import nh3

from apps.streams.live import conf
from apps.streams.live.models import LiveStream
from castcore.api.errors import ApiError, Conflict

MAX_VARIANTS = 6
_VARIANT_KEYS = {
    "name", "passthrough", "width", "height", "video_bitrate_kbps", "fps", "audio_bitrate_kbps",
}  # fmt: skip
_VARIANT_BOUNDS = {
    "width": (16, 7680),
    "height": (16, 4320),
    "video_bitrate_kbps": (50, 100_000),
    "fps": (1, 120),
    "audio_bitrate_kbps": (16, 512),
}


def clean_page_content(html: str) -> str:
    """The operator's HTML below the player, with scripts, handlers and unsafe URLs removed."""
    return nh3.clean(html or "", link_rel="noopener noreferrer nofollow")


def _basic_variant_check(variants: Any) -> list[dict[str, Any]]:
    """Shape and bounds of the ladder, until the engine's variant spec checks it all."""
    if not isinstance(variants, list) or len(variants) > MAX_VARIANTS:
        raise ApiError("live_stream.invalid_variants", {"field": "variants", "max": MAX_VARIANTS})
    checked = []
    for index, variant in enumerate(variants):
        field = f"variants.{index}"
        if not isinstance(variant, dict) or not set(variant) <= _VARIANT_KEYS:
            raise ApiError("live_stream.invalid_variants", {"field": field})
        if not variant.get("passthrough"):
            for name, (low, high) in _VARIANT_BOUNDS.items():
                value = variant.get(name)
                if name in ("width", "height", "video_bitrate_kbps") and value is None:
                    raise ApiError("validation.required", {"field": f"{field}.{name}"})
                if value is not None and (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not low <= value <= high
                ):
                    raise ApiError(
                        "validation.out_of_range",
                        {"field": f"{field}.{name}", "min": low, "max": high},
                    )
        checked.append(dict(variant))
    return checked


def check_variants(variants: Any) -> list[dict[str, Any]]:
    """The ladder as stored; the engine's rules (apps.streams.live.ladder) when present."""
    try:
        from apps.streams.live.ladder import validate_variants  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _basic_variant_check(variants)
    return validate_variants(variants)  # type: ignore[no-any-return,unused-ignore]


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
