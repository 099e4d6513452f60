"""The catalogue of platforms CastCore can send to: the one place their rules live.

Data in code rather than fixture rows: the rules change with the platforms' published
guidance, which is a code change reviewed like any other, and the engine's preview
warnings (workers/ffmpeg/preview_rules.py) take them as plain data from `preview_rules()`.

Figures are the platforms' published ingest guidance, written from memory and not
re-checked online (no network here): YouTube "Live encoder settings" (upper end of
each range at 60 fps), Twitch "Broadcasting guidelines" (6000 kbps for most channels),
Facebook Live "Video specs" (720p 4 Mbps, 1080p 9 Mbps, RTMPS only), Kick (RTMPS,
8000 kbps).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from workers.ffmpeg.preview_rules import PlatformRule


class PlatformType(StrEnum):
    YOUTUBE = "youtube"
    TWITCH = "twitch"
    FACEBOOK = "facebook"
    KICK = "kick"
    CUSTOM_RTMP = "custom_rtmp"
    CUSTOM_RTMPS = "custom_rtmps"
    CUSTOM_SRT = "custom_srt"


@dataclass(frozen=True)
class IngestServer:
    label: str
    url: str


@dataclass(frozen=True)
class Platform:
    """One platform: where it ingests, what it accepts, and how accounts link to it."""

    type: PlatformType
    name: str
    ingest_servers: tuple[IngestServer, ...]
    # None for the custom targets: anything goes, nothing to warn about.
    rule: PlatformRule | None
    # Whether accounts can link through OAuth (the platform's API hands out the ingest
    # URL and key, and takes title/description); otherwise only a stream key account.
    oauth: bool = False
    # Scopes asked for at OAuth start: enough to read the ingest and set metadata.
    oauth_scopes: tuple[str, ...] = ()


CATALOGUE: tuple[Platform, ...] = (
    Platform(
        PlatformType.YOUTUBE,
        "YouTube",
        (
            IngestServer("Primary", "rtmp://a.rtmp.youtube.com/live2"),
            IngestServer("Backup", "rtmp://b.rtmp.youtube.com/live2?backup=1"),
            IngestServer("Primary (RTMPS)", "rtmps://a.rtmps.youtube.com:443/live2"),
        ),
        PlatformRule(
            "youtube",
            ("youtube.com",),
            2.0,
            (
                (240, 700),
                (360, 1000),
                (480, 2000),
                (720, 6000),
                (1080, 9000),
                (1440, 18000),
                (2160, 51000),
            ),
            video_codecs=("h264", "hevc"),
            audio_codecs=("aac", "mp3"),
        ),
        oauth=True,
        oauth_scopes=("https://www.googleapis.com/auth/youtube",),
    ),
    Platform(
        PlatformType.TWITCH,
        "Twitch",
        (
            IngestServer("Auto (closest)", "rtmp://live.twitch.tv/app"),
            IngestServer("Auto (RTMPS)", "rtmps://live.twitch.tv:443/app"),
        ),
        PlatformRule(
            "twitch",
            ("twitch.tv", "contribute.live-video.net"),
            2.0,
            ((720, 4500), (4320, 6000)),
            audio_codecs=("aac", "mp3"),
        ),
        oauth=True,
        oauth_scopes=("channel:read:stream_key", "channel:manage:broadcast"),
    ),
    Platform(
        PlatformType.FACEBOOK,
        "Facebook",
        (IngestServer("Live (RTMPS)", "rtmps://live-api-s.facebook.com:443/rtmp"),),
        PlatformRule(
            "facebook", ("facebook.com", "fbcdn.net"), 2.0, ((720, 4000), (4320, 9000)), True
        ),
    ),
    Platform(
        PlatformType.KICK,
        "Kick",
        (
            IngestServer(
                "Global (RTMPS)", "rtmps://fa723fc1b171.global-contribute.live-video.net:443/app"
            ),
        ),
        # Kick ingests through Amazon IVS: its server is a host of IVS's
        # global-contribute.live-video.net, not of kick.com. Only Kick's own host is
        # claimed, so other IVS customers' servers get no Kick warnings.
        PlatformRule(
            "kick",
            ("kick.com", "fa723fc1b171.global-contribute.live-video.net"),
            2.0,
            ((4320, 8000),),
            True,
        ),
    ),
    Platform(PlatformType.CUSTOM_RTMP, "Custom RTMP", (), None),
    Platform(PlatformType.CUSTOM_RTMPS, "Custom RTMPS", (), None),
    Platform(PlatformType.CUSTOM_SRT, "Custom SRT", (), None),
)

_BY_TYPE = {p.type.value: p for p in CATALOGUE}


def platform_get(platform_type: str) -> Platform | None:
    return _BY_TYPE.get(platform_type)


def preview_rules() -> tuple[PlatformRule, ...]:
    """The ingest rules the command preview checks outputs against."""
    return tuple(p.rule for p in CATALOGUE if p.rule is not None)
