"""An HDHomeRun-style tuner surface, so Plex and Jellyfin can add CastCore as a tuner.

Plex and Jellyfin read three JSON documents at the tuner's base URL, and the UPnP
description `device.xml`; the shapes follow what HDHomeRun devices answer (the keys
clients read, nothing more). A lineup entry's URL is the channel's continuous MPEG-TS
(`/channels/{slug}/stream.ts`): Plex's DVR plays it as a plain HTTP stream, not HLS.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings

#: How many streams the tuner says it can play at once (clients cap their use by it).
TUNER_COUNT = 4
FRIENDLY_NAME = "CastCore"
MANUFACTURER = "CastCore"
MODEL_NAME = "HDHomeRun CastCore"
MODEL_NUMBER = "HDTC-2US"


def _digest() -> bytes:
    # SECRET_KEY persists across restarts (var/secret_key, or the environment), so the
    # identity does too: Plex keys its DVR, and its channel mapping, by DeviceID.
    return hashlib.sha256(b"castcore-tuner:" + settings.SECRET_KEY.encode()).digest()


def device_id() -> str:
    """8 hex digits, stable for this deployment (derived, one-way, from its secret key)."""
    return _digest().hex()[:8].upper()


def device_udn() -> str:
    """The UPnP UDN: a UUID whose first 8 hex digits are the DeviceID."""
    return f"uuid:{uuid.UUID(bytes=_digest()[:16])}"


def discover(base_url: str) -> dict[str, Any]:
    return {
        "FriendlyName": FRIENDLY_NAME,
        "Manufacturer": MANUFACTURER,
        "ModelNumber": MODEL_NUMBER,
        "FirmwareName": "hdhomeruntc_atsc",
        "FirmwareVersion": "20200101",
        "DeviceID": device_id(),
        "DeviceAuth": "",
        "TunerCount": TUNER_COUNT,
        "BaseURL": base_url,
        "LineupURL": f"{base_url}/lineup.json",
        "DeviceXmlUrl": f"{base_url}/device.xml",
    }


def device_xml(base_url: str) -> str:
    """The UPnP device description HDHomeRun devices serve (deviceType, names, UDN)."""
    fields = {
        "deviceType": "urn:schemas-upnp-org:device:MediaServer:1",
        "friendlyName": FRIENDLY_NAME,
        "manufacturer": MANUFACTURER,
        "modelName": MODEL_NAME,
        "modelNumber": MODEL_NUMBER,
        "serialNumber": device_id(),
        "UDN": device_udn(),
    }
    device = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<root xmlns="urn:schemas-upnp-org:device-1-0">'
        "<specVersion><major>1</major><minor>0</minor></specVersion>"
        f"<URLBase>{escape(base_url)}</URLBase>"
        f"<device>{device}</device>"
        "</root>\n"
    )


def lineup_entry(number: int, name: str, url: str) -> dict[str, Any]:
    return {"GuideNumber": str(number), "GuideName": name, "URL": url}


def lineup_status() -> dict[str, Any]:
    return {"ScanInProgress": 0, "ScanPossible": 1, "Source": "Cable", "SourceList": ["Cable"]}
