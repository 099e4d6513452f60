"""Celery task of channel playing (queue "default"): a thin wrapper around its service."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="workers.channel_play.keep_channels_playing", ignore_result=True)
def keep_channels_playing() -> dict[str, int]:
    """Start channels that should play and do not; stop idle on-demand channels.

    Beat sends it every CASTCORE_CHANNEL_KEEP_PLAYING_SECONDS. The channels' own runs
    are supervised by the stream-job engine (lease, reconciler); this only brings a
    stopped job back (a start is a compare-and-set: two copies of it start one run).
    """
    from apps.channels.play.services import channels_keep_playing

    done = channels_keep_playing()
    if any(done.values()):  # housekeeping speaks only when it did something
        logger.info("Channels: %s", done)
    return done
