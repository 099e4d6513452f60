"""Environment settings of the system app, parsed strictly (castcore.env).

Read at import; tests that need other values monkeypatch these attributes.
"""

from __future__ import annotations

from castcore.env import env_int

# The health endpoint warns (200, status "warning") when a folder CastCore writes to
# (VAR_DIR, MEDIA_ROOT, the output roots) has less free space than this.
HEALTH_MIN_FREE_MB = env_int("CASTCORE_HEALTH_MIN_FREE_MB", 2048, minimum=0)
