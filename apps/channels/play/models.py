"""A channel's player: the stream job that plays it and when a viewer last asked."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ChannelPlayer(models.Model):
    """The stream job that plays a channel's playout, created on its first start."""

    channel = models.OneToOneField(
        "castcore_channels.Channel", on_delete=models.CASCADE, related_name="player"
    )
    # The engine runs it (lease, reconciler, hints); the channel owns it.
    job = models.OneToOneField("streams.StreamJob", on_delete=models.PROTECT, related_name="+")
    # The job that copies the channel's own HLS (inputs.relay_input) to its restream outputs
    # and, while the channel records, to the recording file: long-lived, so a receiver sees
    # one publish and a recording is one file while `job` moves from window to window.
    # None until the channel first has a restream output or records.
    relay_job = models.OneToOneField(
        "streams.StreamJob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Whether the channel should be playing (start/stop, the scheduler, a first viewer).
    wanted = models.BooleanField(default=False)
    # Stopped on purpose (the API's stop, a scheduled `channel.stop`): a viewer does not
    # start it again, only a start does. An idle stop leaves it False.
    held = models.BooleanField(default=False)
    # The latest playlist request: an on-demand channel stops once it is old.
    last_viewer_at = models.DateTimeField(null=True, blank=True)
    # Output timestamps count seconds from here (JobSpec.output_ts_offset_s), so every
    # ffmpeg of the channel continues the timeline of the one before, whatever ended it.
    epoch = models.DateTimeField(default=timezone.now)
    # The span of the schedule the running ffmpeg was given (inputs.channel_window): a
    # rebuild that changes rows inside it has that ffmpeg replaced (services).
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"player of channel {self.channel_id}"
