"""Whether an asset is in use, answered by the apps that use assets.

Later apps (stream jobs with overlays, channels with slates) register a
checker at start-up, in their AppConfig.ready():

    from apps.media.usage import register_asset_usage
    register_asset_usage("stream_job", lambda asset: StreamJob.objects.filter(overlay=asset)
                         .values_list("id", flat=True))

A checker returns the ids (or any short labels) of what uses the asset. Apps
that hold a ForeignKey to Asset should also use on_delete=PROTECT: the
checker gives the 409 its details, PROTECT closes the race between the check
and the delete (asset_delete turns ProtectedError into the same 409).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apps.media.models import Asset

UsageChecker = Callable[["Asset"], Iterable[Any]]

_checkers: dict[str, UsageChecker] = {}


def register_asset_usage(name: str, checker: UsageChecker) -> None:
    """Register (or replace) the checker called `name`."""
    _checkers[name] = checker


def unregister_asset_usage(name: str) -> None:
    _checkers.pop(name, None)


def asset_usages(asset: Asset, *, limit: int = 10) -> dict[str, list[str]]:
    """{checker name: [up to `limit` users]} for every checker that found a use."""
    found: dict[str, list[str]] = {}
    for name, checker in list(_checkers.items()):
        users = [str(user) for _, user in zip(range(limit), checker(asset), strict=False)]
        if users:
            found[name] = users
    return found
