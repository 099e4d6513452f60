"""Environment settings of channel playing, parsed strictly (castcore.env).

Read at import; tests monkeypatch these attributes.
"""

from __future__ import annotations

from castcore.env import env_float, env_int

# How far ahead one ffmpeg's concat list reaches. When it has played it, the job's loop
# starts the next ffmpeg at once where the schedule is then (the HLS playlist goes on);
# a schedule change reaches the picture at the latest after this long.
WINDOW_SECONDS = env_int("CASTCORE_CHANNEL_WINDOW_SECONDS", 3600, minimum=10)
# HLS of a channel: segment length and how many the playlist lists.
SEGMENT_SECONDS = env_int("CASTCORE_CHANNEL_SEGMENT_SECONDS", 2, minimum=1)
LIST_SIZE = env_int("CASTCORE_CHANNEL_LIST_SIZE", 6, minimum=3)
# An on-demand channel stops after no one asked for its playlist for this long.
IDLE_SECONDS = env_int("CASTCORE_CHANNEL_IDLE_SECONDS", 60, minimum=5)
# A starting ffmpeg takes about this long to put out its first picture: it joins the
# schedule this far ahead, so the picture is on time rather than late by its start-up.
START_LEAD_SECONDS = env_float("CASTCORE_CHANNEL_START_LEAD_SECONDS", 1.0, minimum=0.0)
# A window shorter than this (rows that run out) plays to its end instead of being handed
# over early (inputs._hand_over_at): not a setting, a floor against restarts in a loop.
HAND_OVER_MIN_SECONDS = 5.0
