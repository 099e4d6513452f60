"""Scheduled actions and the claim of each of their occurrences."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone as django_timezone

from apps.channels.scheduling.recurrence import Recurrence


class ActionKind(models.TextChoices):
    STREAM_JOB_START = "stream_job.start", "Start a stream job"
    STREAM_JOB_STOP = "stream_job.stop", "Stop a stream job"
    CHANNEL_START = "channel.start", "Start a channel"
    CHANNEL_STOP = "channel.stop", "Stop a channel"
    REPLAY_PUBLISH = "replay.publish", "Publish a replay"


class MissedPolicy(models.TextChoices):
    SKIP = "skip", "Skip runs missed while CastCore was down"
    RUN_ONCE = "run_once", "Run the latest missed run once"


class ScheduledAction(models.Model):
    """An action to take at a time, once or by an RFC 5545 rule, in a time zone."""

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=ActionKind.choices)
    # The target, by kind: one of these is set (services check which).
    stream_job = models.ForeignKey(
        "streams.StreamJob", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.ForeignKey(
        "castcore_channels.Channel",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="scheduled_actions",
    )
    replay = models.ForeignKey(
        "castcore_channels.Replay",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="scheduled_actions",
    )
    # The first occurrence (a one-off's only one); its wall time in `timezone` is what
    # a rule repeats.
    starts_at = models.DateTimeField()
    timezone = models.CharField(max_length=64, default="UTC")
    rule = models.CharField(max_length=500, blank=True)
    missed_policy = models.CharField(
        max_length=8, choices=MissedPolicy.choices, default=MissedPolicy.SKIP
    )
    enabled = models.BooleanField(default=True)
    # The next occurrence not yet handled (UTC); null when the rule has no more.
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=django_timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def recurrence(self) -> Recurrence:
        return Recurrence(starts_at=self.starts_at, timezone=self.timezone, rule=self.rule)


class RunState(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (missed while CastCore was down)"


class ScheduledRun(models.Model):
    """One occurrence of an action, claimed once: the unique pair makes it run exactly once."""

    action = models.ForeignKey(ScheduledAction, on_delete=models.CASCADE, related_name="runs")
    occurrence_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=RunState.choices)
    # Set when it ran late: the occurrence was missed and run under the run_once policy.
    late = models.BooleanField(default=False)
    error_code = models.CharField(max_length=100, blank=True)
    error_params = models.JSONField(default=dict, blank=True)
    ran_at = models.DateTimeField(default=django_timezone.now)
    # Which process claimed it (host:pid), to tell two schedulers apart in the history.
    claimed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-occurrence_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["action", "occurrence_at"], name="scheduled_run_once_per_occurrence"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} at {self.occurrence_at:%Y-%m-%d %H:%M:%S}"
