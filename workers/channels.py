"""Playout tasks of the channels app: take an id, call the service, nothing else."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="channels.rebuild_channel_playout", ignore_result=True)
def rebuild_channel_playout(channel_id: int) -> None:
    """Rebuild one channel's playout from now, after its schedule or playlists changed.

    No retry: the periodic refresh notices the same change (playout_compiled_at)
    and rebuilds then; a redelivered message rebuilds twice, which is harmless.
    """
    from apps.channels.models import Channel
    from apps.channels.services.playout import playout_rebuild

    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is not None:
        playout_rebuild(channel=channel)


@shared_task(name="channels.refresh_playouts", ignore_result=True)
def refresh_playouts() -> None:
    """Periodic: extend every enabled channel to the horizon, rebuild the changed ones.

    Each channel is compiled under its own row lock, so two beats (or a rebuild
    racing this) serialise instead of writing overlapping rows.
    """
    from apps.channels.models import Channel
    from apps.channels.services.playout import playout_refresh

    for channel in Channel.objects.filter(enabled=True).order_by("pk"):
        playout_refresh(channel=channel)


@shared_task(name="channels.warm_channel_guides", ignore_result=True)
def warm_channel_guides(channel_ids: list[int]) -> None:
    """After a compile wrote these channels' rows: render their guide into the cache,
    so no reader pays for it.

    No retry: a lost warm costs one reader the rendering, and the periodic warm_guides
    renders whatever is missing anyway.
    """
    from apps.channels.services.guide import guide_warm

    guide_warm(channel_ids=channel_ids)


@shared_task(name="channels.warm_guides", ignore_result=True)
def warm_guides() -> None:
    """Periodic: render every channel's guide that the cache lacks for this hour, and for
    the next one shortly before it, so the hour's change finds the guide warm."""
    from apps.channels.services.guide import guide_warm

    guide_warm()
