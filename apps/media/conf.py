"""Environment settings of the media library, parsed strictly at start-up.

Values are read once; services read them as `conf.NAME` at call time so a
test can monkeypatch one without reloading settings.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from castcore.env import env_int, env_str

MB = 1024 * 1024

#: Where SMB/NFS sources are mounted, one subdirectory per source id.
MOUNT_DIR = Path(env_str("CASTCORE_MOUNT_DIR", str(settings.VAR_DIR / "mounts")))
MOUNT_TIMEOUT = env_int("CASTCORE_MOUNT_TIMEOUT_SECONDS", 20, minimum=1)
#: Per-step budget of POST /storage-sources/{id}/test (connect, login, list, read).
STORAGE_TEST_TIMEOUT = env_int("CASTCORE_STORAGE_TEST_TIMEOUT_SECONDS", 5, minimum=1)

#: Thumbnails are cached under MEDIA_ROOT/<THUMBNAIL_DIR>; assets under MEDIA_ROOT/<ASSET_DIR>.
THUMBNAIL_DIR = "thumbnails"
ASSET_DIR = "assets"
THUMBNAIL_WIDTH = env_int("CASTCORE_THUMBNAIL_WIDTH", 320, minimum=16)
THUMBNAIL_TIMEOUT = env_int("CASTCORE_THUMBNAIL_TIMEOUT_SECONDS", 30, minimum=1)
#: Browsers may reuse a thumbnail this long; the ETag changes when the file does.
THUMBNAIL_MAX_AGE = env_int("CASTCORE_THUMBNAIL_MAX_AGE_SECONDS", 86_400, minimum=0)

ASSET_MAX_IMAGE_BYTES = env_int("CASTCORE_ASSET_MAX_IMAGE_BYTES", 10 * MB, minimum=1024)
ASSET_MAX_VIDEO_BYTES = env_int("CASTCORE_ASSET_MAX_VIDEO_BYTES", 500 * MB, minimum=1024)
ASSET_MAX_PIXELS = env_int("CASTCORE_ASSET_MAX_PIXELS", 40_000_000, minimum=1)

#: A running scan whose heartbeat is older than this (or a queued one never
#: picked up) is considered abandoned, so a killed worker cannot block rescans.
SCAN_STALE_SECONDS = env_int("CASTCORE_SCAN_STALE_SECONDS", 600, minimum=30)
#: How often a running scan saves its counters and publishes progress.
SCAN_PROGRESS_SECONDS = 0.5


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def thumbnail_root() -> Path:
    return media_root() / THUMBNAIL_DIR


def asset_root() -> Path:
    return media_root() / ASSET_DIR
