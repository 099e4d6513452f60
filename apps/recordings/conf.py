"""Environment settings of the recordings app (read once, strictly, with castcore.env)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from castcore.env import env_bool, env_int

# asciinema server's option of the same name: refuse uploads from install IDs
# not linked to an account. GlobalSettings.upload_auth_required does the same
# at run time; either one switches it on.
UPLOAD_AUTH_REQUIRED = env_bool("UPLOAD_AUTH_REQUIRED", default=False)

# Largest asciicast file accepted by the upload endpoints, in bytes.
MAX_UPLOAD_BYTES = env_int("RECORDINGS_MAX_UPLOAD_MB", 50, minimum=1) * 1024 * 1024

# Output kept per live stream to bring a late viewer's screen up to date.
LIVE_SNAPSHOT_BYTES = env_int("RECORDINGS_LIVE_SNAPSHOT_KB", 512, minimum=16) * 1024

# A connected producer's socket writes its stream's last_seen_at this often,
# output or not; a stream not seen for LIVE_STALE_SECONDS is not live, whatever
# its flag says (the producer's host or our web process died mid-broadcast).
LIVE_HEARTBEAT_SECONDS = env_int("RECORDINGS_LIVE_HEARTBEAT_SECONDS", 10, minimum=1)
LIVE_STALE_SECONDS = env_int("RECORDINGS_LIVE_STALE_SECONDS", 45, minimum=3)
if LIVE_STALE_SECONDS < 2 * LIVE_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "RECORDINGS_LIVE_STALE_SECONDS must be at least twice RECORDINGS_LIVE_HEARTBEAT_SECONDS,"
        " or a slow heartbeat would flap the live flag."
    )

# Subfolder of MEDIA_ROOT holding every recording file.
STORAGE_DIR = "recordings"

# A video's poster frame is never wider than this (nor than the video).
POSTER_MAX_WIDTH = 1280
