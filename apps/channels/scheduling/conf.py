"""Environment settings of the scheduler, parsed strictly (castcore.env).

Read at import; tests monkeypatch these attributes. The tick interval is in
settings.CELERY_BEAT_SCHEDULE (`CASTCORE_SCHEDULER_INTERVAL_SECONDS`).
"""

from __future__ import annotations

from castcore.env import env_int

# An occurrence this much older than the tick that finds it was missed (CastCore was
# down): the action's missed-run policy decides. Longer than a tick, so a busy beat
# is late, not missing.
MISSED_AFTER_SECONDS = env_int("CASTCORE_SCHEDULER_MISSED_AFTER_SECONDS", 120, minimum=10)
# How many upcoming occurrences an action lists by default, and at most.
UPCOMING_DEFAULT = 5
UPCOMING_MAX = 100
