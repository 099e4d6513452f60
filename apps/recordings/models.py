"""Recordings of every kind (terminal sessions and videos) and live terminal streams."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Sum
from django.utils import timezone

from apps.recordings import conf
from castcore.markup import render_markdown
from castcore.secrets import EncryptedTextField


def new_url_token() -> str:
    # 25 characters like asciinema's tokens: unguessable, so an unlisted URL is a capability.
    return secrets.token_urlsafe(19)


def new_stream_token() -> str:
    return secrets.token_urlsafe(12)


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public: listed on /explore"
    UNLISTED = "unlisted", "Unlisted: whoever has the URL"
    PRIVATE = "private", "Private: the owner only"


class RecordingQuerySet(models.QuerySet["Recording"]):
    def visible(self) -> RecordingQuerySet:
        return self.filter(hidden_at__isnull=True)

    def unclaimed(self) -> RecordingQuerySet:
        return self.filter(owner__is_temporary=True)

    def stored_bytes(self) -> int:
        """Bytes these recordings hold in storage: every file of each (Recording.stored_bytes)."""
        total = self.aggregate(total=Sum(F("size") + F("playable_size") + F("poster_size")))
        return int(total["total"] or 0)


class Recording(models.Model):
    """A terminal session (asciicast v1/v2/v3) or a video (stream job or session)."""

    class Kind(models.TextChoices):
        TERMINAL = "terminal", "Terminal"
        VIDEO = "video", "Video"

    class Status(models.TextChoices):
        # OpenVidu's recording lifecycle; uploads are "available" at once.
        STARTING = "starting", "Starting"
        STARTED = "started", "Started"
        STOPPED = "stopped", "Stopped"
        AVAILABLE = "available", "Available"
        FAILED = "failed", "Failed"

    class OutputMode(models.TextChoices):
        COMPOSED = "COMPOSED", "Composed"
        INDIVIDUAL = "INDIVIDUAL", "Individual"

    kind = models.CharField(max_length=8, choices=Kind.choices, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recordings"
    )
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)  # Markdown; see description_html
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.UNLISTED
    )
    # Every row gets one, so changing visibility never needs a new URL; it is
    # the only way to reach an unlisted or private recording.
    url_token = models.CharField(max_length=32, unique=True, default=new_url_token, editable=False)
    file = models.FileField(max_length=255, blank=True)
    audio_url = models.URLField(max_length=500, blank=True)
    duration = models.FloatField(default=0.0)  # seconds
    size = models.BigIntegerField(default=0)  # bytes of `file`
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Retention of unclaimed recordings: set when hidden, the row answers 410.
    hidden_at = models.DateTimeField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AVAILABLE)

    # Terminal recordings.
    asciicast_version = models.PositiveSmallIntegerField(null=True, blank=True)
    cols = models.PositiveIntegerField(null=True, blank=True)
    rows = models.PositiveIntegerField(null=True, blank=True)

    # Video recordings, with OpenVidu's attributes (createdAt is created_at in ms).
    name = models.CharField(max_length=200, blank=True)
    session_id = models.CharField(max_length=200, blank=True, db_index=True)
    has_audio = models.BooleanField(default=True)
    has_video = models.BooleanField(default=True)
    output_mode = models.CharField(
        max_length=10, choices=OutputMode.choices, default=OutputMode.COMPOSED
    )
    resolution = models.CharField(max_length=16, blank=True)  # "1280x720"
    reason = models.CharField(max_length=64, blank=True)  # why it stopped or failed
    # A plain integer, not a foreign key: apps.streams owns stream jobs.
    stream_job_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    # What browsers play: `file` is Matroska as the engine writes it, so videos also
    # get a fragmented MP4 copy and a poster frame (services.recording_make_playable,
    # run by a worker after the row is saved). The original stays for download.
    playable_file = models.FileField(max_length=255, blank=True)
    poster = models.FileField(max_length=255, blank=True)
    # Their bytes, as `size` is the original's: disk quotas count every file a recording has.
    playable_size = models.BigIntegerField(default=0)
    poster_size = models.BigIntegerField(default=0)
    # The playable.* / probe.* code when no playable copy could be made.
    playable_error = models.CharField(max_length=64, blank=True)

    objects = RecordingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["terminal", "video"]), name="recording_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.get_kind_display()} recording {self.pk}"

    @property
    def url_key(self) -> str:
        """What stands for this recording in web URLs: the id only when public."""
        return str(self.pk) if self.visibility == Visibility.PUBLIC else self.url_token

    @property
    def page_path(self) -> str:
        return f"/r/{self.url_key}"

    @property
    def file_extension(self) -> str:
        if self.kind == self.Kind.TERMINAL:
            return "cast"
        suffix = self.file.name.rsplit(".", 1)[-1].lower() if "." in self.file.name else "mp4"
        return suffix

    @property
    def file_path(self) -> str | None:
        return f"/r/{self.url_key}.{self.file_extension}" if self.file else None

    @property
    def playable_path(self) -> str | None:
        return f"/r/{self.url_key}/video.mp4" if self.playable_file else None

    @property
    def poster_path(self) -> str | None:
        return f"/r/{self.url_key}/poster.jpg" if self.poster else None

    @property
    def stored_names(self) -> list[str]:
        """Every file of this recording in storage: the original and what was made from it."""
        return [f.name for f in (self.file, self.playable_file, self.poster) if f and f.name]

    @property
    def stored_bytes(self) -> int:
        """Bytes of every file in `stored_names`."""
        return self.size + self.playable_size + self.poster_size

    @property
    def created_at_ms(self) -> int:
        return int(self.created_at.timestamp() * 1000)

    @property
    def description_html(self) -> str:
        return render_markdown(self.description)

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


def live_cutoff(now: datetime | None = None) -> datetime:
    """Producers last seen before this are gone, even if no one saw their socket close."""
    return (now or timezone.now()) - timedelta(seconds=conf.LIVE_STALE_SECONDS)


class TerminalStreamQuerySet(models.QuerySet["TerminalStream"]):
    def live_now(self) -> TerminalStreamQuerySet:
        return self.filter(live=True, last_seen_at__gte=live_cutoff())


class TerminalStream(models.Model):
    """An asciinema live stream endpoint: a producer socket feeds it, viewers watch it."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="terminal_streams"
    )
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.UNLISTED
    )
    url_token = models.CharField(
        max_length=32, unique=True, default=new_stream_token, editable=False
    )
    # The producer URL is a credential: encrypted at rest, found by its hash.
    producer_token = EncryptedTextField(editable=False)
    producer_token_hash = models.CharField(max_length=64, unique=True, editable=False)
    audio_url = models.URLField(max_length=500, blank=True)
    # Record the next (or the current) broadcast into a new Recording.
    record = models.BooleanField(default=False)
    # Set while a producer socket is attached; `is_live` is what to show (a
    # producer that vanished without closing leaves this set until cleanup).
    live = models.BooleanField(default=False)
    # Channel-layer name of the connected producer socket; "" when none.
    producer_channel = models.CharField(max_length=200, blank=True, editable=False)
    cols = models.PositiveIntegerField(null=True, blank=True)
    rows = models.PositiveIntegerField(null=True, blank=True)
    # The producer's heartbeat (conf.LIVE_HEARTBEAT_SECONDS) while it is attached.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    recording = models.ForeignKey(
        Recording,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The recording being written from the current broadcast, if any.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TerminalStreamQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title or f"Stream {self.pk}"

    @property
    def is_live(self) -> bool:
        """A producer is attached and its heartbeat is recent."""
        return bool(self.live and self.last_seen_at and self.last_seen_at >= live_cutoff())

    @property
    def url_key(self) -> str:
        return str(self.pk) if self.visibility == Visibility.PUBLIC else self.url_token

    @property
    def page_path(self) -> str:
        return f"/s/{self.url_key}"

    @property
    def description_html(self) -> str:
        return render_markdown(self.description)
