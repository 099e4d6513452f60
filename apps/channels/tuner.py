"""An HDHomeRun-style tuner surface, so Plex and Jellyfin can add CastCore as a tuner.

Plex and Jellyfin read three JSON documents at the tuner's base URL; the shapes
follow what HDHomeRun devices answer (the keys clients read, nothing more).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings

#: How many streams the tuner says it can play at once (clients cap their use by it).
TUNER_COUNT = 4


def device_id() -> str:
    """8 hex digits, stable for this deployment (derived, one-way, from its secret key)."""
    digest = hashlib.sha256(b"castcore-tuner:" + settings.SECRET_KEY.encode()).hexdigest()
    return digest[:8].upper()


def discover(base_url: str) -> dict[str, Any]:
    return {
        "FriendlyName": "CastCore",
        "Manufacturer": "CastCore",
        "ModelNumber": "HDTC-2US",
        "FirmwareName": "hdhomeruntc_atsc",
        "FirmwareVersion": "20200101",
        "DeviceID": device_id(),
        "DeviceAuth": "",
        "TunerCount": TUNER_COUNT,
        "BaseURL": base_url,
        "LineupURL": f"{base_url}/lineup.json",
    }


def lineup_entry(number: int, name: str, url: str) -> dict[str, Any]:
    return {"GuideNumber": str(number), "GuideName": name, "URL": url}


def lineup_status() -> dict[str, Any]:
    return {"ScanInProgress": 0, "ScanPossible": 1, "Source": "Cable", "SourceList": ["Cable"]}
