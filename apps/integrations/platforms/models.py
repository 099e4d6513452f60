"""Platform accounts and per-job platform metadata templates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

from django.conf import settings
from django.db import models

from apps.integrations.platforms.catalogue import CATALOGUE
from castcore.secrets import EncryptedTextField, mask
from workers.ffmpeg.masking import mask_url

PLATFORM_CHOICES = [(p.type.value, p.name) for p in CATALOGUE]


class AccountKind(models.TextChoices):
    STREAM_KEY = "stream_key"  # an ingest URL and a key pasted by hand
    OAUTH = "oauth"  # linked through the platform's OAuth; its API hands out URL and key


class AccountStatus(models.TextChoices):
    ACTIVE = "active"
    # Linking ended: revoked here, or the platform refused the refresh token. Re-link
    # through oauth/start with ?account=<id>.
    REVOKED = "revoked"


class PlatformAccount(models.Model):
    """Credentials for one platform: a stream key, or OAuth tokens (encrypted at rest)."""

    name = models.CharField(max_length=100)
    platform = models.CharField(max_length=16, choices=PLATFORM_CHOICES)
    kind = models.CharField(max_length=10, choices=AccountKind.choices)
    status = models.CharField(
        max_length=8, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    # Stream key accounts: where to send and the key. OAuth accounts leave both empty:
    # they are fetched from the platform when a run starts, and never stored.
    # Encrypted and shown masked, as an output's URL: SRT carries its streamid and
    # passphrase in the query, and some RTMP servers take the key as the last segment.
    ingest_url = EncryptedTextField(max_length=1024, blank=True, default="")
    stream_key = EncryptedTextField(blank=True, default="")
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=500, blank=True, default="")
    # The platform's own id and name for the linked channel (shown, and used in API calls).
    external_id = models.CharField(max_length=200, blank=True, default="")
    external_name = models.CharField(max_length=200, blank=True, default="")
    last_test_code = models.CharField(max_length=64, blank=True, default="")
    last_tested_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The API, the admin and the audit log show the URL as an output's (castcore.admin_site).
    AUDIT_SHOWN: ClassVar[Mapping[str, Callable[[str], str]]] = {"ingest_url": mask_url}

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.platform})"

    @property
    def masked_stream_key(self) -> str:
        return mask(self.stream_key)

    @property
    def linked(self) -> bool:
        return self.kind == AccountKind.OAUTH and bool(self.access_token)


class PlatformMetadata(models.Model):
    """What a job tells one platform on start: templates rendered with the job's variables."""

    job = models.ForeignKey(
        "streams.StreamJob", on_delete=models.CASCADE, related_name="platform_metadata"
    )
    platform = models.CharField(max_length=16, choices=PLATFORM_CHOICES)
    title = models.CharField(max_length=500, blank=True, default="")
    description = models.TextField(blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    category = models.CharField(max_length=200, blank=True, default="")
    privacy = models.CharField(max_length=10, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
    # How the latest push on start went ("platform.ok" or a code), shown as a hint.
    last_push_code = models.CharField(max_length=64, blank=True, default="", editable=False)
    last_push_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "platform"], name="one_metadata_per_platform")
        ]
        verbose_name_plural = "platform metadata"

    def __str__(self) -> str:
        return f"{self.platform} metadata of job {self.job_id}"
