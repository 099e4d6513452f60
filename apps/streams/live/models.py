"""Live stream, publish session and viewer-count rows (imported by apps.streams.models)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from castcore.secrets import EncryptedTextField


def new_ingest_key() -> str:
    # 32 URL-safe characters: fits an RTMP path segment and SRT's 10-79 character passphrase.
    return secrets.token_urlsafe(24)


def ingest_key_digest(key: str) -> str:
    """The lookup form of a key: callbacks find a stream by it without decrypting every row."""
    return hashlib.sha256(key.encode()).hexdigest()


class LiveVisibility(models.TextChoices):
    PUBLIC = "public", "Public: listed on the home page"
    UNLISTED = "unlisted", "Unlisted: whoever has the link"
    PRIVATE = "private", "Private: its operators, or a signed link"


class LatencyLevel(models.IntegerChoices):
    """Segment length and playlist window, lowest latency first (Owncast's levels 0-4)."""

    LOWEST = 0, "Lowest"
    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"
    HIGHEST = 4, "Highest (most tolerant of slow networks)"


class IngestProtocol(models.TextChoices):
    RTMP = "rtmp"
    SRT = "srt"


class LiveStream(models.Model):
    """Where a publisher sends and viewers watch; many per instance, each with its own settings."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="live_streams",
    )
    title = models.CharField(max_length=200, blank=True, default="")
    summary = models.TextField(blank=True, default="")  # plain text
    page_content = models.TextField(blank=True, default="")  # sanitised HTML (nh3) below the player
    tags = models.JSONField(default=list, blank=True)  # ["music", "live"]
    logo = models.ForeignKey(
        "media.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    nsfw = models.BooleanField(default=False)
    social_links = models.JSONField(default=list, blank=True)  # [{"platform", "url"}]
    visibility = models.CharField(
        max_length=8, choices=LiveVisibility.choices, default=LiveVisibility.PUBLIC
    )
    # The publisher's secret: encrypted at rest, found by its digest, never returned by the
    # API after creation/rotation. Revoked (empty digest): every publish is refused.
    ingest_key = EncryptedTextField(blank=True, default="")
    ingest_key_digest = models.CharField(max_length=64, blank=True, default="", db_index=True)
    ingest_key_rotated_at = models.DateTimeField(default=timezone.now)
    srt_enabled = models.BooleanField(default=False)
    srt_port = models.PositiveIntegerField(null=True, blank=True, unique=True)
    latency_level = models.PositiveSmallIntegerField(
        choices=LatencyLevel.choices, default=LatencyLevel.LOW
    )
    # The output ladder: [{"name", "passthrough", "width", "height", "video_bitrate_kbps",
    # "fps", "audio_bitrate_kbps"}], highest first; validated by the engine's variant spec.
    variants = models.JSONField(default=list, blank=True)
    # The transcode: its input is this stream's local ingest, its outputs the restream
    # targets, its recording flag this stream's. Created with the stream, deleted with it.
    job = models.OneToOneField(
        "streams.StreamJob", on_delete=models.PROTECT, related_name="live_stream"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_title(self) -> str:
        return self.title or self.name


class LiveSession(models.Model):
    """One publish, from the first accepted connection to the end of its grace period.

    A publisher that drops and returns within the grace period continues the same
    session: `disconnected_at` is set on drop and cleared on return.
    """

    stream = models.ForeignKey(LiveStream, on_delete=models.CASCADE, related_name="sessions")
    protocol = models.CharField(max_length=8, choices=IngestProtocol.choices)
    publisher_address = models.GenericIPAddressField(null=True, blank=True)
    # nginx-rtmp's client id of the publisher connected now (on_publish_done names it).
    publisher_client_id = models.CharField(max_length=32, blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    reconnects = models.PositiveIntegerField(default=0)
    # What the encoder sends, read from the ingest (ffprobe of the local ingest, then stats).
    video_codec = models.CharField(max_length=32, blank=True, default="")
    audio_codec = models.CharField(max_length=32, blank=True, default="")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    video_bitrate_kbps = models.PositiveIntegerField(null=True, blank=True)
    audio_bitrate_kbps = models.PositiveIntegerField(null=True, blank=True)
    encoder = models.CharField(max_length=200, blank=True, default="")  # e.g. "obs-output module"
    peak_viewers = models.PositiveIntegerField(default=0)
    recording = models.ForeignKey(
        "recordings.Recording", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One open session per stream: the second publisher is refused by this row.
            models.UniqueConstraint(
                fields=["stream"],
                condition=Q(ended_at__isnull=True),
                name="live_session_one_open_per_stream",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stream_id} session {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class ViewerSample(models.Model):
    """The viewer count of a stream at a moment: counts over time, for charts and Owncast."""

    stream = models.ForeignKey(LiveStream, on_delete=models.CASCADE, related_name="viewer_samples")
    session = models.ForeignKey(
        LiveSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["stream", "at"])]

    def __str__(self) -> str:
        return f"{self.stream_id}: {self.count} viewers at {self.at:%Y-%m-%d %H:%M:%S}"
