"""Environment settings of the channels app, parsed strictly at start-up.

Services read them as `conf.NAME` at call time so a test can monkeypatch one.
"""

from __future__ import annotations

from castcore.env import env_float, env_int

#: How far ahead playout rows are compiled (and the guide reaches).
PLAYOUT_HORIZON_DAYS = env_int("CASTCORE_PLAYOUT_HORIZON_DAYS", 7, minimum=1)
#: How long aired rows are kept (the guide shows 2 hours back); older ones are pruned.
PLAYOUT_KEEP_DAYS = env_int("CASTCORE_PLAYOUT_KEEP_DAYS", 2, minimum=1)
#: Deepest nesting of playlists in playlists.
MAX_PLAYLIST_DEPTH = 8
#: The next hour's guide is rendered ahead when the hour is this close (after a compile,
#: and by the periodic warm task, whose interval must be shorter than this).
GUIDE_WARM_AHEAD_MINUTES = env_int("CASTCORE_GUIDE_WARM_AHEAD_MINUTES", 10, minimum=1)
#: An on-demand channel's first viewer (playlist or MPEG-TS) is held this long at most for
#: its first segments; only then is the answer a 503 (many IPTV clients do not retry one).
CHANNEL_START_WAIT_SECONDS = env_float("CASTCORE_CHANNEL_START_WAIT_SECONDS", 15.0, minimum=0.0)
