"""`{% home_replays %}`: the replays section of the home page, with its own query."""

from __future__ import annotations

from typing import Any

from django import template

from apps.channels.replays.selectors import home_replays as latest_replays

register = template.Library()


@register.inclusion_tag("replays/_home_list.html")
def home_replays(limit: int = 6) -> dict[str, Any]:
    return {"replays": latest_replays(limit)}
