"""Playlists, 24/7 channels, their schedules and the playout rows compiled from them.

A channel's schedule (ScheduleBlock rows) says what should air, in the channel's
local time; `services.playout` compiles it into PlayoutRow rows with absolute
UTC start and end, one per item actually aired (filler included), up to a
horizon. Everything downstream (the playing engine, the XMLTV guide, the M3U,
the viewer pages) reads the playout rows, so the guide never drifts from what
plays. `selectors.playout_at(channel, at)` answers "what plays at T, at which offset".
"""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import Q

from castcore.secrets import EncryptedTextField


def new_url_token() -> str:
    # The recordings' shape (apps.recordings.models.new_url_token): unguessable, so a
    # stream URL that carries it is a capability for a non-public channel.
    return secrets.token_urlsafe(19)


def new_guide_id() -> str:
    # Fixed at creation and never derived from the number, name or slug: Plex and
    # Jellyfin key their channel mapping on it, so renumbering must not change it.
    return f"castcore.{secrets.token_hex(6)}"


class PlaybackOrder(models.TextChoices):
    IN_ORDER = "in_order", "In order"
    SHUFFLE = "shuffle", "Shuffle (each item once per round)"
    RANDOM = "random", "Random (repeats possible)"


class Playlist(models.Model):
    """An ordered list of things to air, and the order they air in."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, default="")
    order = models.CharField(
        max_length=10, choices=PlaybackOrder.choices, default=PlaybackOrder.IN_ORDER
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ItemKind(models.TextChoices):
    MEDIA = "media", "A media item"
    FOLDER = "folder", "Every media item under a folder of a source"
    SOURCE = "source", "Every media item of a storage source"
    PLAYLIST = "playlist", "Another playlist"


class PlaylistItem(models.Model):
    """One entry of a playlist; folders, sources and playlists expand when compiled."""

    playlist = models.ForeignKey(Playlist, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=8, choices=ItemKind.choices)
    media_item = models.ForeignKey(
        "media.MediaItem", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    source = models.ForeignKey(
        "media.StorageSource", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # For kind=folder: a folder inside `source`, relative ("shows/news"), no slashes at the ends.
    folder = models.CharField(max_length=1024, blank=True, default="")
    # PROTECT: a playlist used inside another is not deleted from under it.
    child = models.ForeignKey(
        Playlist, null=True, blank=True, on_delete=models.PROTECT, related_name="used_in"
    )
    # Seconds into the media; out_point null = to its end. Media items only.
    in_point = models.FloatField(null=True, blank=True)
    out_point = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["playlist_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="media", media_item__isnull=False)
                    | Q(kind__in=["folder", "source"], source__isnull=False)
                    | Q(kind="playlist", child__isnull=False)
                ),
                name="channels_playlist_item_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.position} of {self.playlist_id}"


class ChannelVisibility(models.TextChoices):
    PUBLIC = "public", "Public: listed, no token needed"
    UNLISTED = "unlisted", "Unlisted: whoever has the tokenised URL"
    PRIVATE = "private", "Private: signed-in users and the tokenised URL"


class ChannelMode(models.TextChoices):
    ALWAYS_ON = "always_on", "Always on"
    ON_DEMAND = "on_demand", "On demand (starts on its first viewer)"


class Channel(models.Model):
    """A 24/7 linear channel: identity for IPTV clients, output settings and filler."""

    number = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    guide_id = models.CharField(max_length=64, unique=True, default=new_guide_id, editable=False)
    logo = models.ForeignKey(
        "media.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    group = models.CharField(max_length=80, blank=True, default="")
    time_zone = models.CharField(max_length=64, default="UTC")
    output_profile = models.ForeignKey(
        "streams.FFmpegProfile",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # What airs in the gaps: a playlist (cut to fit) or else a slate image; neither = black.
    filler_playlist = models.ForeignKey(
        Playlist, null=True, blank=True, on_delete=models.PROTECT, related_name="filler_of"
    )
    filler_asset = models.ForeignKey(
        "media.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    visibility = models.CharField(
        max_length=8, choices=ChannelVisibility.choices, default=ChannelVisibility.PUBLIC
    )
    mode = models.CharField(
        max_length=10, choices=ChannelMode.choices, default=ChannelMode.ALWAYS_ON
    )
    enabled = models.BooleanField(default=True)
    # The token non-public stream URLs carry (?token=…); see stream_path().
    url_token = models.CharField(max_length=32, unique=True, default=new_url_token, editable=False)
    # When the playout was last compiled: changes to its inputs after it trigger a rebuild.
    playout_compiled_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def stream_path(self, *, with_token: bool | None = None) -> str:
        """The HLS path the playing engine serves; non-public channels carry their token."""
        return self._tokenised(f"/channels/{self.slug}/index.m3u8", with_token)

    def mpegts_path(self, *, with_token: bool | None = None) -> str:
        """The continuous MPEG-TS of the same picture (the HDHomeRun tuner's lineup)."""
        return self._tokenised(f"/channels/{self.slug}/stream.ts", with_token)

    def guide_path(self, *, with_token: bool | None = None) -> str:
        """This channel's own XMLTV guide outside the API, read as its stream is: an IPTV
        client that was handed the channel's M3U needs no other credential for either."""
        return self._tokenised(f"/channels/{self.slug}/epg.xml", with_token)

    def _tokenised(self, path: str, with_token: bool | None) -> str:
        # The one rule for every URL handed to IPTV clients (M3U, guide, tuner).
        if with_token is None:
            with_token = self.visibility != ChannelVisibility.PUBLIC
        return f"{path}?token={self.url_token}" if with_token else path

    def token_ok(self, token: str | None) -> bool:
        return bool(token) and secrets.compare_digest(str(token), self.url_token)


class ChannelOutput(models.Model):
    """An optional restream target of a channel (RTMP/SRT URL with its secret key)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="outputs")
    name = models.CharField(max_length=100, blank=True, default="")
    kind = models.CharField(max_length=8, default="rtmp")  # apps.streams.models.OutputKind values
    url = EncryptedTextField(max_length=1024)
    stream_key = EncryptedTextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name or f"{self.kind} output"


class BlockMode(models.TextChoices):
    DURATION = "duration", "For a duration"
    COUNT = "count", "For a number of items"
    FLOOD = "flood", "Until the next block"


#: Monday=bit 0 … Sunday=bit 6, as datetime.weekday() numbers them.
ALL_WEEKDAYS = 0b1111111


class ScheduleBlock(models.Model):
    """A playlist airing from a local wall-clock time on some weekdays."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="blocks")
    playlist = models.ForeignKey(Playlist, on_delete=models.PROTECT, related_name="blocks")
    start_time = models.TimeField(help_text="local time in the channel's time zone")
    weekdays = models.PositiveSmallIntegerField(
        default=ALL_WEEKDAYS, help_text="bit mask, Monday = 1 … Sunday = 64"
    )
    mode = models.CharField(max_length=8, choices=BlockMode.choices, default=BlockMode.FLOOD)
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="seconds (duration)")
    count = models.PositiveIntegerField(null=True, blank=True, help_text="items (count)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel_id", "start_time", "id"]

    def __str__(self) -> str:
        return f"{self.playlist} at {self.start_time:%H:%M} on {self.channel_id}"

    def airs_on(self, weekday: int) -> bool:
        return bool(self.weekdays & (1 << weekday))


class PlayoutRow(models.Model):
    """One item airing on a channel from `start` to `end` (UTC), compiled from the schedule.

    The media plays from `in_point` for end - start seconds. A filler row pads a
    gap (a cut filler item, a slate asset, or nothing: black). `playlist` and
    `seq` record where in that playlist's endless sequence the item came from, so
    a rebuild resumes each playlist at the next item.
    """

    # Indexes: a week of 100 channels is half a million rows, rewritten by every rebuild,
    # so each index costs the compile. The channel's is the (channel, …) ones below; the
    # block's, playlist's, asset's and replay's are left out: those rows are deleted
    # rarely, and then one scan of this table is cheaper than an index kept for it.
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="playout", db_index=False
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    media_item = models.ForeignKey(
        "media.MediaItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    asset = models.ForeignKey(
        "media.Asset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    in_point = models.FloatField(default=0.0)
    out_point = models.FloatField(null=True, blank=True)
    filler = models.BooleanField(default=False)
    block = models.ForeignKey(
        ScheduleBlock,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    playlist = models.ForeignKey(
        Playlist,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    seq = models.BigIntegerField(null=True, blank=True)
    # A replay re-aired at a fixed time (Replay.reair_at); SET_NULL, not CASCADE: the
    # past stays history, and a future row that lost its replay makes the next refresh
    # rebuild (services.playout.playout_inputs_changed_since).
    replay = models.ForeignKey(
        "castcore_channels.Replay",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Guide text frozen at compile time, so the guide reads the rows alone.
    title = models.CharField(max_length=300, blank=True, default="")
    description = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["channel_id", "start"]
        indexes = [
            models.Index(fields=["channel", "start"]),
            models.Index(fields=["channel", "end"]),
            # The guide reads items only; filler can be most rows of a week (short bumpers).
            models.Index(
                fields=["channel", "start"],
                condition=Q(filler=False),
                name="playout_items_by_start",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="playout_row_span"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.start:%Y-%m-%d %H:%M:%S} {self.title}"

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def offset_at(self, at: datetime) -> float:
        """Seconds into the media file at `at` (in_point included)."""
        return self.in_point + (at - self.start).total_seconds()


# Models kept in their own packages (scheduler, replays); imported here so that Django
# registers them with this app.
from apps.channels.play.models import ChannelPlayer  # noqa: E402, F401
from apps.channels.replays.models import Replay  # noqa: E402, F401
from apps.channels.scheduling.models import ScheduledAction, ScheduledRun  # noqa: E402, F401
