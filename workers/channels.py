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
