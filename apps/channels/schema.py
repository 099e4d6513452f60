"""The IPTV routes in the OpenAPI schema: a drf-spectacular postprocessing hook.

drf-spectacular documents DRF views only. These routes are plain Django views on
purpose: IPTV clients get XMLTV, M3U, HDHomeRun's JSON and XML, HLS and an endless
MPEG-TS (an async streaming view, which DRF cannot serve), under the channels' access
rule (public, `?token=`, or signed in for a private channel) rather than the API's
authentication. So the hook describes them here, one place, with their media types
and that rule; each path comes from its URL name (`reverse`), so a route that moves
moves in the schema too, and one that goes fails the schema's generation.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

TAG = "iptv"
ERROR_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
#: Public channels for anyone; others with the channel's token; private ones for a
#: signed-in user of the site (its session cookie) too.
TOKEN_SCHEME = "channelToken"  # noqa: S105 (a scheme's name, not a secret)
SESSION_SCHEME = "siteSession"
WATCH: list[dict[str, list[str]]] = [{}, {TOKEN_SCHEME: []}, {SESSION_SCHEME: []}]
ANONYMOUS: list[dict[str, list[str]]] = [{}]

_TEXT = {"type": "string"}
_BINARY = {"type": "string", "format": "binary"}
_SLUG = {
    "name": "slug",
    "in": "path",
    "required": True,
    "description": "The channel's slug",
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
}
_SEGMENT = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "A segment the playlist lists",
    "schema": {"type": "string", "pattern": "^segment_[0-9]{5,12}\\.ts$"},
}


def _body(media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {media_type: {"schema": schema}}


def _errors(*, not_found: bool = False, not_playing: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {
        # castcore/middleware.py refuses a NUL in the URL before any view runs (in the
        # API's envelope under /api/ only).
        "400": {
            "description": "Malformed URL (a NUL in the path or query)",
            "content": _body("text/html", _TEXT),
        }
    }
    if not_found:
        responses["404"] = {
            "description": "No such channel, or not one the client may watch (a wrong or "
            "missing token): one answer for both, Django's page",
            "content": _body("text/html", _TEXT),
        }
    if not_playing:
        responses["503"] = {
            "description": "The channel is not playing (`channel.not_playing`): an on-demand "
            "channel's first viewer is held until its first segments exist, up to "
            "CASTCORE_CHANNEL_START_WAIT_SECONDS, and only then told to retry "
            "(`Retry-After`); at once when it cannot start (stopped on purpose until "
            "started again, no output profile)",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            "content": _body("application/json", ERROR_REF),
        }
    return responses


def _ranges() -> dict[str, Any]:
    """What castcore.files.send_file answers besides a 200: a range, a cached copy still
    good, a range past the end."""
    return {
        "206": {
            "description": "The bytes a `Range` header asked for (`If-Range` honoured)",
            "headers": {"Content-Range": {"schema": {"type": "string"}}},
            "content": _body("video/mp2t", _BINARY),
        },
        "304": {"description": "`If-None-Match` names the segment's ETag: no body"},
        "416": {
            "description": "The range lies past the end of the segment (`Content-Range: "
            "bytes */<size>`): an empty body",
            "headers": {"Content-Range": {"schema": {"type": "string"}}},
            "content": _body("text/html", _TEXT),
        },
    }


def _operation(
    operation_id: str,
    summary: str,
    description: str,
    ok: dict[str, Any],
    *,
    security: list[dict[str, list[str]]],
    parameters: list[dict[str, Any]] | None = None,
    not_found: bool = False,
    not_playing: bool = False,
    ranges: bool = False,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": [TAG],
        "security": security,
        "responses": {
            "200": ok,
            **(_ranges() if ranges else {}),
            **_errors(not_found=not_found, not_playing=not_playing),
        },
    }
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path(route: str, **kwargs: str) -> str:
    """The route's path, with `{name}` for each of its parameters."""
    path = reverse(route, kwargs={key: f"PARAM-{key}" for key in kwargs})
    for key, placeholder in kwargs.items():
        path = path.replace(f"PARAM-{key}", placeholder)
    return path


_DISCOVER = {
    "type": "object",
    "properties": {
        name: {"type": "integer"} if name == "TunerCount" else {"type": "string"}
        for name in (
            "FriendlyName", "Manufacturer", "ModelNumber", "FirmwareName", "FirmwareVersion",
            "DeviceID", "DeviceAuth", "TunerCount", "BaseURL", "LineupURL", "DeviceXmlUrl",
        )
    },
}  # fmt: skip
_LINEUP = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "GuideNumber": {"type": "string"},
            "GuideName": {"type": "string"},
            "URL": {"type": "string", "format": "uri"},
        },
    },
}
_LINEUP_STATUS = {
    "type": "object",
    "properties": {
        "ScanInProgress": {"type": "integer"},
        "ScanPossible": {"type": "integer"},
        "Source": {"type": "string"},
        "SourceList": {"type": "array", "items": {"type": "string"}},
    },
}


def _paths() -> dict[str, dict[str, Any]]:
    slug = {"slug": "{slug}"}
    return {
        _path("channels:epg"): _operation(
            "iptv_epg",
            "XMLTV guide of every public channel",
            "The guide for IPTV clients (xmltv.dtd), streamed, from 2 hours ago to the playout "
            "horizon. No authentication: public channels only.",
            {"description": "XMLTV", "content": _body("application/xml", _TEXT)},
            security=ANONYMOUS,
        ),
        _path("channels:m3u"): _operation(
            "iptv_m3u",
            "M3U of every public channel",
            "`#EXTM3U` with `url-tvg` pointing at /epg.xml, each channel's `tvg-id` equal to "
            "its guide id. No authentication: public channels only, and only those that can "
            "play (with an output profile).",
            {"description": "M3U", "content": _body("audio/x-mpegurl", _TEXT)},
            security=ANONYMOUS,
        ),
        _path("channels:channel-epg", **slug): _operation(
            "iptv_channel_epg",
            "One channel's XMLTV guide",
            "The `url-tvg` of a channel's own M3U: answered to whoever may watch the channel.",
            {"description": "XMLTV", "content": _body("application/xml", _TEXT)},
            security=WATCH,
            parameters=[_SLUG],
            not_found=True,
        ),
        _path("channels:tuner-discover"): _operation(
            "tuner_discover",
            "HDHomeRun discover",
            "What Plex's DVR and Jellyfin's HDHomeRun tuner read first at the tuner address "
            "(the site's root URL). DeviceID is stable for the deployment.",
            {"description": "Device", "content": _body("application/json", _DISCOVER)},
            security=ANONYMOUS,
        ),
        _path("channels:tuner-device"): _operation(
            "tuner_device",
            "HDHomeRun UPnP device description",
            "UPnP device description (deviceType, friendlyName, manufacturer, modelName, UDN "
            "whose UUID begins with the DeviceID).",
            {"description": "device.xml", "content": _body("application/xml", _TEXT)},
            security=ANONYMOUS,
        ),
        _path("channels:tuner-lineup"): _operation(
            "tuner_lineup",
            "HDHomeRun lineup",
            "The public channels that can play (with an output profile), each with the URL "
            "of its continuous MPEG-TS stream.",
            {"description": "Lineup", "content": _body("application/json", _LINEUP)},
            security=ANONYMOUS,
        ),
        _path("channels:tuner-lineup-status"): _operation(
            "tuner_lineup_status",
            "HDHomeRun lineup status",
            "Never scanning: the lineup is the channels' list.",
            {"description": "Status", "content": _body("application/json", _LINEUP_STATUS)},
            security=ANONYMOUS,
        ),
        _path("channel-hls", **slug): _operation(
            "channel_hls_playlist",
            "A channel's live HLS playlist",
            "The live part of the channel's playlist; with `?token=` the token is carried into "
            "every segment URI. A request notes a viewer: an on-demand channel starts on it.",
            {
                "description": "HLS media playlist",
                "content": _body("application/vnd.apple.mpegurl", _TEXT),
            },
            security=WATCH,
            parameters=[_SLUG],
            not_found=True,
            not_playing=True,
        ),
        _path("channel-ts", **slug): _operation(
            "channel_mpegts",
            "A channel as one continuous MPEG-TS",
            "For HDHomeRun clients (the lineup's URL): the channel's segments in order from "
            "near the live edge, for as long as the client reads. Counts as a viewer; an "
            "on-demand channel starts on it. Where another ffmpeg's segments begin, the "
            "packets carry the MPEG-TS discontinuity indicator.",
            {"description": "MPEG-TS, endless", "content": _body("video/mp2t", _BINARY)},
            security=WATCH,
            parameters=[_SLUG],
            not_found=True,
            not_playing=True,
        ),
        _path("channel-segment", slug="{slug}", name="segment_00000.ts").replace(
            "segment_00000.ts", "{name}"
        ): _operation(
            "channel_hls_segment",
            "A segment of a channel's HLS",
            "Cached as immutable: a segment name never names other bytes. Byte ranges, "
            "`If-Range` and `If-None-Match` as for any file CastCore serves.",
            {"description": "MPEG-TS segment", "content": _body("video/mp2t", _BINARY)},
            security=WATCH,
            parameters=[_SLUG, _SEGMENT],
            not_found=True,
            ranges=True,
        ),
    }


def iptv_paths(result: dict[str, Any], generator: Any, request: Any, public: bool) -> Any:
    """POSTPROCESSING_HOOKS entry: the IPTV routes and their security schemes."""
    result.setdefault("paths", {}).update({path: {"get": op} for path, op in _paths().items()})
    schemes = result.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[TOKEN_SCHEME] = {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "A non-public channel's token, as its M3U and page hand it out",
    }
    schemes[SESSION_SCHEME] = {
        "type": "apiKey",
        "in": "cookie",
        "name": settings.SESSION_COOKIE_NAME,
        "description": "A signed-in user of the site (private channels)",
    }
    return result
