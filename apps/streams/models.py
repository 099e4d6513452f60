"""FFmpeg profiles, stream jobs, their outputs and runs, and preflight/dry-run reports.

A job says what the operator wants (`desired_state`); its runs say what
happened. `StreamJob.state` is the job's derived state, written only through
compare-and-set updates (services.py, runtime/), so concurrent callers agree.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from castcore.secrets import EncryptedTextField
from workers.ffmpeg import spec as engine


def _choices(enum: type[Any]) -> list[tuple[str, str]]:
    return [(member.value, member.value) for member in enum]


class FFmpegProfile(models.Model):
    """Typed encoding settings (never raw arguments), validated through ProfileSpec."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    video_codec = models.CharField(
        max_length=16, choices=_choices(engine.VideoCodec), default="libx264"
    )
    preset = models.CharField(max_length=16, blank=True, default="veryfast")  # "": encoder default
    rate_control = models.CharField(
        max_length=8, choices=_choices(engine.RateControl), default="cbr"
    )
    video_bitrate_kbps = models.PositiveIntegerField(null=True, blank=True, default=4500)
    maxrate_kbps = models.PositiveIntegerField(null=True, blank=True)
    bufsize_kbps = models.PositiveIntegerField(null=True, blank=True)
    crf = models.PositiveSmallIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    keyframe_interval_s = models.FloatField(null=True, blank=True, default=2.0)
    audio_codec = models.CharField(
        max_length=16, choices=_choices(engine.AudioCodec), default="aac"
    )
    audio_bitrate_kbps = models.PositiveIntegerField(null=True, blank=True, default=128)
    audio_sample_rate = models.PositiveIntegerField(null=True, blank=True, default=48000)
    audio_channels = models.PositiveSmallIntegerField(null=True, blank=True, default=2)
    # The allow-listed extras; ProfileSpec checks each against a fixed vocabulary.
    tune = models.CharField(max_length=16, blank=True, default="")
    video_profile = models.CharField(max_length=24, blank=True, default="")
    pix_fmt = models.CharField(max_length=16, blank=True, default="")
    level = models.CharField(max_length=8, blank=True, default="")
    vaapi_device = models.CharField(max_length=64, default="/dev/dri/renderD128")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    SPEC_FIELDS = (
        "video_codec", "preset", "rate_control", "video_bitrate_kbps", "maxrate_kbps",
        "bufsize_kbps", "crf", "width", "height", "fps", "keyframe_interval_s", "audio_codec",
        "audio_bitrate_kbps", "audio_sample_rate", "audio_channels", "tune", "pix_fmt", "level",
        "vaapi_device",
    )  # fmt: skip

    OPTIONAL_TEXT = ("preset", "tune", "pix_fmt", "level")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def to_spec(self) -> engine.ProfileSpec:
        """The engine's view of this profile; raises SpecError on a bad combination."""
        values = {name: getattr(self, name) for name in self.SPEC_FIELDS}
        for name in self.OPTIONAL_TEXT:
            values[name] = values[name] or None  # the engine's "not set" is None
        values["video_codec"] = engine.VideoCodec(values["video_codec"])
        values["audio_codec"] = engine.AudioCodec(values["audio_codec"])
        values["rate_control"] = engine.RateControl(values["rate_control"])
        return engine.ProfileSpec(profile=self.video_profile or None, **values)


class JobState(models.TextChoices):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    STOPPING = "stopping"
    PAUSING = "pausing"
    PAUSED = "paused"
    FAILED = "failed"
    # Reported, never stored: the row says a worker runs the job, but that worker stopped
    # renewing its run's lease (killed, host lost) and nothing has taken the run back
    # yet (status.reported_state). The reconciler then restarts or settles the job.
    LOST = "lost"


class DesiredState(models.TextChoices):
    STOPPED = "stopped"
    RUNNING = "running"
    PAUSED = "paused"


# States in which a run owns (or is about to own) an ffmpeg process.
ACTIVE_JOB_STATES = (
    JobState.STARTING,
    JobState.RUNNING,
    JobState.RECONNECTING,
    JobState.STOPPING,
    JobState.PAUSING,
)


class InputKind(models.TextChoices):
    FILE = "file"
    URL = "url"
    TEST_PATTERN = "test_pattern"
    MEDIA_ITEM = "media_item"  # one library item, read through its source's backend
    MEDIA_FOLDER = "media_folder"  # a folder's items in name order, looped (concat demuxer)
    # A 24/7 channel's playout rows from now on (apps.channels.play): the job is the
    # channel's own, created and started by the channel.
    CHANNEL = "channel"


# Kinds whose position survives a pause: the next run continues from it (-ss).
# Inputs a paused job resumes from its position (local files; a folder plays as a playlist).
SEEKABLE_INPUT_KINDS = (InputKind.FILE, InputKind.MEDIA_ITEM, InputKind.MEDIA_FOLDER)


class StreamJob(models.Model):
    """One input, a profile and outputs, run under a reconnect policy by a Celery worker."""

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="stream_jobs",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    input_kind = models.CharField(
        max_length=16, choices=InputKind.choices, default=InputKind.TEST_PATTERN
    )
    input_path = models.CharField(max_length=1024, blank=True, default="")
    input_url = EncryptedTextField(
        blank=True, default=""
    )  # may carry credentials (user:pass@, passphrase=)
    input_url_kind = models.CharField(
        max_length=8, choices=_choices(engine.UrlKind), blank=True, default=""
    )
    input_pattern = models.CharField(
        max_length=16,
        choices=_choices(engine.TestPattern),
        default=engine.TestPattern.TESTSRC2.value,
    )
    input_width = models.PositiveIntegerField(default=1280)
    input_height = models.PositiveIntegerField(default=720)
    input_rate = models.PositiveIntegerField(default=30)
    input_with_audio = models.BooleanField(default=True)
    input_media_item = models.ForeignKey(
        "media.MediaItem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stream_jobs",
    )
    input_media_source = models.ForeignKey(
        "media.StorageSource",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stream_jobs",
    )
    input_media_folder = models.CharField(
        max_length=1024, blank=True, default=""
    )  # relative to input_media_source; "" is its root
    profile = models.ForeignKey(FFmpegProfile, on_delete=models.PROTECT, related_name="jobs")
    loop = models.BooleanField(default=False)
    # Read a file, folder, library item or test pattern at its native rate (ffmpeg -re).
    # Off reads it as fast as ffmpeg can: for file-to-file work (the preview warns when
    # such an input feeds a live output). Live URL inputs are never paced.
    realtime = models.BooleanField(
        default=True,
        help_text="Read a file, folder, media-library item or test pattern at its native "
        "rate. Off: as fast as FFmpeg can, for file-to-file work only.",
    )
    reconnect_max_attempts = models.PositiveIntegerField(
        null=True, blank=True, default=10
    )  # null: forever
    reconnect_base_seconds = models.FloatField(default=1.0)
    reconnect_cap_seconds = models.FloatField(default=60.0)
    reconnect_jitter = models.FloatField(default=0.2)
    stall_timeout_seconds = models.FloatField(default=30.0)
    autostart = models.BooleanField(default=False)
    recording_enabled = models.BooleanField(default=False)
    desired_state = models.CharField(
        max_length=16, choices=DesiredState.choices, default=DesiredState.STOPPED
    )
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.STOPPED)
    # Bumped by every start/restart/reconcile: the current run holds this value.
    fencing_token = models.PositiveBigIntegerField(default=0)
    # The number of the job's latest run, bumped with the token (services.control.begin_run).
    # Kept on the job's row because the bump locks that row: two concurrent restarts
    # then number their runs one after the other. A MAX over the runs, read in the
    # same statement, gave both the same number.
    last_run_number = models.PositiveIntegerField(default=0, db_default=0)
    resume_position_s = models.FloatField(default=0.0)  # what a paused file or folder played
    # When the running ffmpeg is to be replaced by a new one built from the job's input as
    # it is then, in the same run (stream_job_respawn: a channel's rows changed in the
    # window its ffmpeg plays). The worker clears it when it starts an ffmpeg.
    respawn_at = models.DateTimeField(null=True, blank=True)
    # Disk this job's file/HLS outputs, run folders and recordings may use (apps/streams/quota.py).
    disk_quota_mb = models.PositiveIntegerField(null=True, blank=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return self.name

    @property
    def current_run(self) -> StreamRun | None:
        return self.runs.filter(fencing_token=self.fencing_token).order_by("-number").first()


class OutputKind(models.TextChoices):
    RTMP = "rtmp"
    RTMPS = "rtmps"
    SRT = "srt"
    HLS = "hls"
    FILE = "file"
    UDP = "udp"


class StreamOutput(models.Model):
    """One target of a job: an ingest URL (with a secret key), a directory or a file."""

    job = models.ForeignKey(StreamJob, on_delete=models.CASCADE, related_name="outputs")
    name = models.CharField(max_length=100, blank=True, default="")
    kind = models.CharField(max_length=8, choices=OutputKind.choices)
    # rtmp/rtmps/srt/udp: the URL; hls: the directory; file: the path. Encrypted: a URL
    # may carry credentials (user:password@, ?passphrase=, the key in an RTMP path).
    url = EncryptedTextField(max_length=1024)
    stream_key = EncryptedTextField(blank=True, default="")  # RTMP key or SRT passphrase
    # Send with this platform account instead: its ingest URL and key (fetched from the
    # platform's API at start for a linked account) replace url and stream_key.
    platform_account = models.ForeignKey(
        "integrations.PlatformAccount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stream_outputs",
    )
    container = models.CharField(
        max_length=16, choices=_choices(engine.Container), default="matroska"
    )
    enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name or f"{self.kind} output"


class RunState(models.TextChoices):
    PENDING = "pending"  # created, waiting for a worker to claim it
    STARTING = "starting"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    STOPPING = "stopping"
    ENDED = "ended"
    # Reported, never stored, as JobState.LOST: the job's current run, active as the row
    # says, whose lease expired (status.run_reported_state).
    LOST = "lost"


ACTIVE_RUN_STATES = (RunState.STARTING, RunState.RUNNING, RunState.RECONNECTING, RunState.STOPPING)


class ExitReason(models.TextChoices):
    STOPPED = "stopped"
    PAUSED = "paused"
    COMPLETED = "completed"  # a finite input ended
    FAILED = "failed"  # reconnect attempts used up
    SUPERSEDED = "superseded"  # a restart handed the job to a newer run
    LEASE_LOST = "lease_lost"  # the worker stopped heartbeating (killed, host lost)
    ERROR = "error"  # the spec could not be built or ffmpeg could not be spawned
    NOT_CLAIMED = "not_claimed"  # no worker took the run's message, even after a re-dispatch
    QUOTA_EXCEEDED = "quota_exceeded"  # the job's or the instance's disk quota was reached
    HANDOVER = "handover"  # its worker was asked to stop (SIGTERM): a new run took the job over


class StreamRun(models.Model):
    """One execution of a job; its lease (worker, pid, fencing token, heartbeat) owns the ffmpeg."""

    job = models.ForeignKey(StreamJob, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.PENDING)
    fencing_token = models.PositiveBigIntegerField()
    worker = models.CharField(max_length=255, blank=True, default="")
    pid = models.IntegerField(null=True, blank=True)
    pgid = models.IntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    start_offset_s = models.FloatField(default=0.0)
    recording = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the run's message was last sent, and how often: the reconciler re-sends once.
    dispatched_at = models.DateTimeField(default=timezone.now)
    dispatch_count = models.PositiveSmallIntegerField(default=1)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(
        max_length=16, choices=ExitReason.choices, blank=True, default=""
    )
    exit_code = models.IntegerField(null=True, blank=True)
    log_tail = models.JSONField(
        default=list, blank=True
    )  # [{level, line, hint_code, hint}], masked
    last_stats = models.JSONField(default=dict, blank=True)
    reconnect_count = models.PositiveIntegerField(default=0)  # every reconnect of the job's series
    # The reconnect attempts that count against reconnect_max_attempts: a process that ran
    # HEALTHY_RESET_SECONDS starts a fresh series (lease.attempts_used), while
    # reconnect_count goes on counting.
    reconnect_attempts = models.PositiveIntegerField(default=0, db_default=0)
    # When the ffmpeg running now was spawned; null while none runs. With heartbeat_at it
    # tells the reconciler how long a dead worker's process ran healthy.
    process_started_at = models.DateTimeField(null=True, blank=True)
    position_s = models.FloatField(default=0.0)

    # Not a column: lease.claim sets it on the run it hands out (an older run of the job
    # still held a live lease). Unknown elsewhere, so a supervisor assumes there may be one.
    predecessor_active: bool = True

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="stream_run_number_unique"),
            models.UniqueConstraint(
                fields=["job", "fencing_token"], name="stream_run_token_unique"
            ),
        ]
        indexes = [models.Index(fields=["state", "lease_expires_at"])]

    def __str__(self) -> str:
        return f"{self.job_id} run {self.number}"


class ReportKind(models.TextChoices):
    PREFLIGHT = "preflight"
    DRY_RUN = "dry_run"


class ReportState(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ReportOverall(models.TextChoices):
    NONE = "", "none"
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class StreamReport(models.Model):
    """A preflight or dry-run report for a job: per-check results and dry-run figures."""

    job = models.ForeignKey(StreamJob, on_delete=models.CASCADE, related_name="reports")
    kind = models.CharField(max_length=16, choices=ReportKind.choices)
    state = models.CharField(
        max_length=16, choices=ReportState.choices, default=ReportState.PENDING
    )
    overall = models.CharField(max_length=8, choices=ReportOverall.choices, blank=True, default="")
    checks = models.JSONField(default=list, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} report {self.pk} for job {self.job_id}"


# Live streams keep their rows in their own module group; Django finds models here.
from apps.streams.live.models import (  # noqa: E402, F401
    LatencyLevel,
    LiveSession,
    LiveStream,
    LiveVisibility,
    ViewerSample,
)
