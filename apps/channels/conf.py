"""Environment settings of the channels app, parsed strictly at start-up.

Services read them as `conf.NAME` at call time so a test can monkeypatch one.
"""

from __future__ import annotations

from castcore.env import env_int

#: How far ahead playout rows are compiled (and the guide reaches).
PLAYOUT_HORIZON_DAYS = env_int("CASTCORE_PLAYOUT_HORIZON_DAYS", 7, minimum=1)
#: Deepest nesting of playlists in playlists.
MAX_PLAYLIST_DEPTH = 8
