"""A channel's player: the stream job that plays it and when a viewer last asked."""

from __future__ import annotations

from django.db import models


class ChannelPlayer(models.Model):
    """The stream job that plays a channel's playout, created on its first start."""

    channel = models.OneToOneField(
        "castcore_channels.Channel", on_delete=models.CASCADE, related_name="player"
    )
    # The engine runs it (lease, reconciler, hints); the channel owns it.
    job = models.OneToOneField("streams.StreamJob", on_delete=models.PROTECT, related_name="+")
    # Whether the channel should be playing (start/stop, the scheduler, a first viewer).
    wanted = models.BooleanField(default=False)
    # The latest playlist request: an on-demand channel stops once it is old.
    last_viewer_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"player of channel {self.channel_id}"
