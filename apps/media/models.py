"""Storage sources, their scans, the media items they found, and uploaded assets."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.media import conf
from apps.media.scanner import DEFAULT_MEDIA_EXTENSIONS
from apps.media.storage.base import (
    DEFAULT_TIMEOUT,
    AnyConfig,
    Backend,
    LocalConfig,
    NFSConfig,
    S3Config,
    SMBConfig,
)
from castcore.addresses import address_policy
from castcore.secrets import EncryptedTextField, remember


class SourceKind(models.TextChoices):
    LOCAL = "local", "Local folder"
    SMB = "smb", "SMB share"
    NFS = "nfs", "NFS export"
    S3 = "s3", "S3 bucket"


#: Kinds read through a managed mount (SMB, NFS); the others are read directly.
MOUNTED_KINDS = frozenset({SourceKind.SMB, SourceKind.NFS})


class StorageSource(models.Model):
    """A place media files live: a local folder, an SMB share, an NFS export or a bucket."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=8, choices=SourceKind.choices)
    enabled = models.BooleanField(default=True)

    # Typed config: which fields matter depends on `kind` (see config()).
    path = models.CharField(
        max_length=1024, blank=True, help_text="local: absolute folder; smb/nfs: folder inside"
    )
    host = models.CharField(max_length=253, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    share = models.CharField(max_length=80, blank=True)
    export = models.CharField(max_length=1024, blank=True)
    domain = models.CharField(max_length=100, blank=True)
    username = models.CharField(max_length=150, blank=True)
    password = EncryptedTextField(blank=True, default="")
    mount_options = models.CharField(max_length=200, blank=True)
    endpoint_url = models.CharField(max_length=500, blank=True)
    region = models.CharField(max_length=64, blank=True)
    bucket = models.CharField(max_length=63, blank=True)
    prefix = models.CharField(max_length=1024, blank=True)
    access_key = models.CharField(max_length=128, blank=True)
    secret_key = EncryptedTextField(blank=True, default="")
    use_path_style = models.BooleanField(default=True)
    verify_tls = models.BooleanField(default=True)

    # Scan settings.
    scan_parallelism = models.PositiveSmallIntegerField(default=2)
    probe_timeout = models.PositiveSmallIntegerField(default=30, help_text="seconds per file")
    extensions = models.JSONField(
        default=list, blank=True, help_text='e.g. [".mp4", ".mkv"]; empty = the defaults'
    )

    # What the last scan left for the next one (apps.media.scanner.ScanIndex).
    scan_index = models.JSONField(default=dict, blank=True, editable=False)
    last_scan_summary = models.JSONField(default=dict, blank=True, editable=False)
    last_scanned_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The operator asked for a mount; a reconciler can remount after a reboot.
    mount_wanted = models.BooleanField(default=False, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_mounted_kind(self) -> bool:
        return self.kind in MOUNTED_KINDS

    def media_extensions(self) -> frozenset[str]:
        return frozenset(e.lower() for e in self.extensions) or DEFAULT_MEDIA_EXTENSIONS

    def config(self) -> AnyConfig:
        """The engine's typed config for this row (secrets decrypted, in memory only)."""
        if self.kind == SourceKind.LOCAL:
            return LocalConfig(path=self.path)
        if self.kind == SourceKind.S3:
            # Not secret at rest, but botocore's debug lines print it with every
            # signed request; remembered, every log line of this process masks it.
            remember(self.access_key)
            return S3Config(
                endpoint_url=self.endpoint_url, region=self.region or "us-east-1",
                bucket=self.bucket, access_key=self.access_key, secret_key=self.secret_key,
                prefix=self.prefix, use_path_style=self.use_path_style,
                verify_tls=self.verify_tls, addresses=address_policy(),
            )  # fmt: skip
        if self.kind == SourceKind.SMB:
            return SMBConfig(
                host=self.host, share=self.share, username=self.username,
                password=self.password, port=self.port or 445, path=self.path,
                domain=self.domain, addresses=address_policy(),
            )  # fmt: skip
        return NFSConfig(
            host=self.host, export=self.export, path=self.path,
            options=self.mount_options, port=self.port or 2049,
            addresses=address_policy(),
        )  # fmt: skip

    def backend(self, *, timeout: float | None = None) -> Backend:
        """The storage backend; raises StorageError for a config that cannot work."""
        from apps.media.storage.local import LocalBackend
        from apps.media.storage.nfs import NFSBackend
        from apps.media.storage.s3 import S3Backend
        from apps.media.storage.smb import SMBBackend

        config = self.config()
        wait = DEFAULT_TIMEOUT if timeout is None else timeout
        if isinstance(config, LocalConfig):
            return LocalBackend(config)
        if isinstance(config, S3Config):
            return S3Backend(config, timeout=wait)
        if isinstance(config, SMBConfig):
            return SMBBackend(
                config, mount_base_dir=conf.MOUNT_DIR, source_id=self.pk, timeout=wait
            )
        return NFSBackend(config, mount_base_dir=conf.MOUNT_DIR, source_id=self.pk, timeout=wait)

    def tree_root(self) -> Path | None:
        """The folder a tree walk starts from, or None for kinds listed remotely (S3)."""
        if self.kind == SourceKind.LOCAL:
            return Path(self.path)
        if self.kind in MOUNTED_KINDS:
            from apps.media.storage.mounted import mounted_root

            return mounted_root(conf.MOUNT_DIR, self.pk, self.path)
        return None


class ScanState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


ACTIVE_SCAN_STATES = (ScanState.QUEUED, ScanState.RUNNING)


class MediaScan(models.Model):
    """One scan of a storage source: its state, counters and errors."""

    source = models.ForeignKey(StorageSource, on_delete=models.CASCADE, related_name="scans")
    state = models.CharField(max_length=8, choices=ScanState.choices, default=ScanState.QUEUED)
    full = models.BooleanField(default=False, help_text="re-probe every file")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    total = models.PositiveIntegerField(default=0)
    to_probe = models.PositiveIntegerField(default=0)
    probed = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent")
    errors = models.JSONField(default=list, blank=True, help_text="walk errors, first 100")
    error_code = models.CharField(max_length=64, blank=True)
    error_detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The database, not a check-then-insert, guarantees one active scan per source.
            models.UniqueConstraint(
                fields=["source"],
                condition=Q(state__in=["queued", "running"]),
                name="media_one_active_scan_per_source",
            )
        ]

    def __str__(self) -> str:
        return f"scan #{self.pk} of {self.source_id} ({self.state})"


class MediaItem(models.Model):
    """A media file found in a source, with what ffprobe said about it."""

    source = models.ForeignKey(StorageSource, on_delete=models.CASCADE, related_name="items")
    relpath = models.CharField(max_length=1024)
    size = models.BigIntegerField(default=0)
    mtime_ns = models.BigIntegerField(default=0)
    missing = models.BooleanField(default=False)
    missing_since = models.DateTimeField(null=True, blank=True)
    # Null until probed: an unprobed row is re-probed by the next scan.
    probed_at = models.DateTimeField(null=True, blank=True)
    probe = models.JSONField(null=True, blank=True)
    probe_error_code = models.CharField(max_length=64, blank=True)
    probe_error_detail = models.TextField(blank=True)
    # Denormalised from `probe` for filtering and sorting.
    container = models.CharField(max_length=100, blank=True)
    duration = models.FloatField(null=True, blank=True)
    bitrate = models.BigIntegerField(null=True, blank=True)
    video_codec = models.CharField(max_length=32, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    frame_rate = models.FloatField(null=True, blank=True)
    audio_codec = models.CharField(max_length=32, blank=True)
    # Relative to MEDIA_ROOT; named after (size, mtime) so an edited file gets a new one.
    thumbnail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source_id", "relpath"]
        constraints = [
            models.UniqueConstraint(fields=["source", "relpath"], name="media_item_unique_relpath")
        ]
        indexes = [
            models.Index(fields=["source", "missing"]),
            models.Index(fields=["video_codec"]),
            models.Index(fields=["duration"]),
            models.Index(fields=["width", "height"]),
        ]

    def __str__(self) -> str:
        return self.relpath

    @property
    def name(self) -> str:
        return self.relpath.rsplit("/", 1)[-1]


class AssetKindChoice(models.TextChoices):
    THUMBNAIL = "thumbnail", "Thumbnail"
    LOGO = "logo", "Logo"
    OVERLAY = "overlay", "Overlay"
    SLATE = "slate", "Fallback slate"
    INTRO = "intro", "Intro clip"
    OUTRO = "outro", "Outro clip"


#: Kinds whose content is a video clip; the others are still images.
VIDEO_ASSET_KINDS = frozenset({AssetKindChoice.INTRO, AssetKindChoice.OUTRO})


class Asset(models.Model):
    """An uploaded image or clip, validated by content and re-encoded without metadata."""

    kind = models.CharField(max_length=16, choices=AssetKindChoice.choices)
    name = models.CharField(max_length=120)
    file = models.FileField(upload_to=conf.ASSET_DIR, max_length=300)
    mime = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    duration = models.FloatField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"
