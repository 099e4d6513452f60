"""The HDHomeRun tuner as Plex's DVR and Jellyfin's tuner read it: discover, the UPnP
device description, and a lineup whose URLs are the channels' MPEG-TS streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from lxml import etree

from apps.channels.models import Channel, ChannelVisibility
from apps.streams.tests.factories import new_profile
from castcore.tests.served import REPO

pytestmark = pytest.mark.django_db
UPNP = "{urn:schemas-upnp-org:device-1-0}"


def test_device_xml_describes_the_device_discover_names() -> None:
    client = Client()
    discover = json.loads(client.get("/discover.json").content)
    assert discover["DeviceXmlUrl"] == "http://testserver/device.xml"
    response = client.get("/device.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    root = etree.fromstring(response.content)  # well-formed, or this raises
    assert root.tag == f"{UPNP}root"
    assert root.findtext(f"{UPNP}URLBase") == discover["BaseURL"]
    device = root.find(f"{UPNP}device")
    assert device is not None
    assert device.findtext(f"{UPNP}deviceType") == "urn:schemas-upnp-org:device:MediaServer:1"
    assert device.findtext(f"{UPNP}friendlyName") == discover["FriendlyName"]
    assert device.findtext(f"{UPNP}manufacturer") == discover["Manufacturer"]
    assert device.findtext(f"{UPNP}modelName")
    assert device.findtext(f"{UPNP}serialNumber") == discover["DeviceID"]
    udn = device.findtext(f"{UPNP}UDN") or ""
    assert udn.startswith("uuid:") and udn[5:13].upper() == discover["DeviceID"]


def _device_id(var_dir: Path) -> str:
    """The DeviceID a fresh CastCore process on `var_dir` derives (no SECRET_KEY set)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SECRET_KEY")}
    env |= {"CASTCORE_VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "castcore.settings"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    code = (
        "import django; django.setup(); from apps.channels import tuner; print(tuner.device_id())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
        check=True, timeout=120,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_the_device_id_survives_a_restart(tmp_path: Path) -> None:
    first = _device_id(tmp_path / "one")
    assert len(first) == 8
    # Plex keys its DVR (and the channel mapping) by it: a restart must keep it.
    assert _device_id(tmp_path / "one") == first
    assert _device_id(tmp_path / "two") != first  # another deployment, another device


def test_the_lineup_points_at_the_mpegts_stream_with_the_rule_for_tokens(settings: Any) -> None:
    profile = new_profile()
    public = Channel.objects.create(number=3, name="Three", slug="three", output_profile=profile)
    unlisted = Channel.objects.create(
        number=4, name="Four", slug="four", visibility=ChannelVisibility.UNLISTED,
        output_profile=profile,
    )  # fmt: skip
    Channel.objects.create(number=5, name="Five", slug="five")  # no profile: cannot play
    lineup = json.loads(Client().get("/lineup.json").content)
    # Anonymous: public channels only, no token needed.
    assert lineup == [
        {
            "GuideNumber": "3",
            "GuideName": "Three",
            "URL": "http://testserver/channels/three/stream.ts",
        }
    ]
    assert public.mpegts_path() == "/channels/three/stream.ts"
    assert unlisted.mpegts_path() == f"/channels/four/stream.ts?token={unlisted.url_token}"


def test_a_non_public_channels_stream_needs_its_token(settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path / "var"
    unlisted = Channel.objects.create(
        number=4, name="Four", slug="four", visibility=ChannelVisibility.UNLISTED
    )
    client = Client()
    assert client.get("/channels/four/stream.ts").status_code == 404
    assert client.get("/channels/four/stream.ts?token=wrong").status_code == 404
    assert client.get("/channels/nope/stream.ts").status_code == 404
    # The right token: the channel is not playing (always-on, never started), so no wait.
    response = client.get(f"/channels/four/stream.ts?token={unlisted.url_token}")
    assert response.status_code == 503 and response["Retry-After"] == "10"
