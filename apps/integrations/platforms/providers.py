"""The few platform API calls CastCore makes, one function per call, errors as codes.

YouTube Data API v3 and Twitch Helix, as far as CastCore uses them: who the linked
channel is, where it ingests (URL and key), and setting a live broadcast's metadata.
Base URLs come from conf.PLATFORM_OAUTH so the tests point them at a local stand-in.
Tokens go in the Authorization header only, never in a URL or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from apps.integrations import conf
from apps.integrations.platforms.catalogue import PlatformType, platform_get


class PlatformApiError(Exception):
    """A platform call failed; `code` says why (`platform.token_invalid`, …)."""

    def __init__(self, code: str, status: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Identity:
    external_id: str
    name: str


@dataclass(frozen=True)
class Ingest:
    url: str
    key: str


@dataclass(frozen=True)
class Metadata:
    title: str
    description: str
    tags: list[str]
    category: str
    privacy: str


def _call(platform: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    provider = conf.PLATFORM_OAUTH[platform]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if platform == PlatformType.TWITCH:
        headers["Client-Id"] = provider["client_id"]
    try:
        response = requests.request(
            method,
            provider["api_url"].rstrip("/") + path,
            headers=headers,
            timeout=conf.PLATFORM_HTTP_TIMEOUT_SECONDS,
            allow_redirects=False,
            **kwargs,
        )
    except requests.RequestException:
        raise PlatformApiError("platform.unreachable") from None
    if response.status_code == 401:
        raise PlatformApiError("platform.token_invalid", 401)
    if response.status_code == 403:
        raise PlatformApiError("platform.forbidden", 403)
    if not 200 <= response.status_code < 300:
        raise PlatformApiError("platform.api_error", response.status_code)
    if response.status_code == 204 or not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise PlatformApiError("platform.api_error", response.status_code) from None


def _first(body: Any, key: str) -> dict[str, Any]:
    items = body.get(key) if isinstance(body, dict) else None
    if not items or not isinstance(items[0], dict):
        raise PlatformApiError("platform.no_channel")
    return items[0]


def identity(platform: str, token: str) -> Identity:
    """The channel the token belongs to."""
    if platform == PlatformType.YOUTUBE:
        item = _first(
            _call(platform, token, "GET", "/youtube/v3/channels?part=snippet&mine=true"), "items"
        )
        return Identity(str(item.get("id", "")), str(item.get("snippet", {}).get("title", "")))
    item = _first(_call(platform, token, "GET", "/helix/users"), "data")
    return Identity(str(item.get("id", "")), str(item.get("display_name") or item.get("login", "")))


def ingest(platform: str, token: str, external_id: str) -> Ingest:
    """Where the linked channel ingests: YouTube's liveStreams cdn.ingestionInfo, or
    Twitch's stream key with the catalogue's ingest server."""
    if platform == PlatformType.YOUTUBE:
        body = _call(platform, token, "GET", "/youtube/v3/liveStreams?part=cdn&mine=true")
        try:
            info = _first(body, "items")["cdn"]["ingestionInfo"]
            url, key = str(info["ingestionAddress"]), str(info["streamName"])
        except (KeyError, TypeError):
            raise PlatformApiError("platform.no_ingest") from None
        return Ingest(url, key)
    body = _call(
        platform, token, "GET", "/helix/streams/key", params={"broadcaster_id": external_id}
    )
    key = str(_first(body, "data").get("stream_key", ""))
    entry = platform_get(platform)
    if not key or entry is None or not entry.ingest_servers:
        raise PlatformApiError("platform.no_ingest")
    return Ingest(entry.ingest_servers[0].url, key)


def push_metadata(platform: str, token: str, external_id: str, meta: Metadata) -> None:
    """Set the title (and what else the platform takes) of the channel's live broadcast."""
    if platform == PlatformType.YOUTUBE:
        body = _call(
            platform,
            token,
            "GET",
            "/youtube/v3/liveBroadcasts?part=id&mine=true&broadcastType=persistent",
        )
        broadcast = _first(body, "items").get("id")
        payload: dict[str, Any] = {
            "id": broadcast,
            "snippet": {"title": meta.title, "description": meta.description},
        }
        if meta.privacy:
            payload["status"] = {"privacyStatus": meta.privacy}
        _call(
            platform, token, "PUT", "/youtube/v3/liveBroadcasts?part=snippet,status", json=payload
        )
        return
    patch: dict[str, Any] = {"title": meta.title, "tags": meta.tags}
    if meta.category:
        patch["game_id"] = meta.category
    _call(
        platform,
        token,
        "PATCH",
        "/helix/channels",
        params={"broadcaster_id": external_id},
        json=patch,
    )
