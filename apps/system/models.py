from __future__ import annotations

from django.db import models

from castcore.secrets import EncryptedTextField


class GlobalSettings(models.Model):
    """Deployment-wide settings an Admin edits at run time (one row)."""

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        UNLISTED = "unlisted", "Unlisted"
        PRIVATE = "private", "Private"

    site_name = models.CharField(max_length=100, default="CastCore")
    public_url = models.URLField(
        blank=True, help_text="Base URL viewers and CLIs use to reach this server."
    )
    default_recording_visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.UNLISTED
    )
    upload_auth_required = models.BooleanField(
        default=False, help_text="Refuse uploads from CLI install IDs not linked to an account."
    )
    unclaimed_hide_after_days = models.PositiveIntegerField(default=7)
    unclaimed_delete_after_days = models.PositiveIntegerField(default=30)
    # Outgoing mail for notifications; the password is encrypted at rest.
    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_username = models.CharField(max_length=255, blank=True)
    smtp_password = EncryptedTextField(blank=True, default="")
    smtp_from = models.EmailField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "global settings"

    def __str__(self) -> str:
        return "Global settings"

    @classmethod
    def load(cls) -> GlobalSettings:
        settings_row, _ = cls.objects.get_or_create(pk=1)
        return settings_row


class WorkerHeartbeat(models.Model):
    """The last sign of life of a Celery worker (embedded or standalone)."""

    hostname = models.CharField(max_length=255, unique=True)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    embedded = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.hostname
