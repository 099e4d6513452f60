"""Owncast's `/api/admin/config/*` setters and `/api/admin/serverconfig`, on a live stream.

Each setter is one of three kinds (the table is in apps/owncast/README.md):
- the stream's own: the value is a LiveStream field, written by the live app's service
  (name, title, summary, page content, tags, NSFW, logo, social links, key, latency,
  variants);
- the stream's Owncast-only settings (StreamOwncastSettings: welcome message, custom
  styles, external actions, chat off, join messages; forbidden names and S3, kept and
  reported but acting on nothing yet);
- fixed: what CastCore sets for the whole instance (ports, the ffmpeg path, the public
  URL) or does one way (no directory, the ladder's codec). A
  stream's key holder administers that stream, not the instance: the value CastCore
  already has is accepted (an admin page that saves every field still works), any other
  is refused with Owncast's `{"success": false, "message": …}`, naming where it is set.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chat import conf as chat_conf
from apps.media.models import AssetKindChoice
from apps.media.selectors import asset_url
from apps.media.services import asset_max_bytes, asset_upload
from apps.owncast import presenters, responses
from apps.owncast.admin import schema
from apps.owncast.admin.base import AdminView, config_value
from apps.owncast.admin.services import owncast_settings_update
from apps.owncast.selectors import owncast_settings
from apps.streams.live import conf as live_conf
from apps.streams.live.ladder import DEFAULT_VARIANTS
from apps.streams.live.services import live_stream_set_key, live_stream_update
from apps.streams.models import LiveStream
from apps.system.models import GlobalSettings
from castcore.api.errors import ApiError
from castcore.secrets import decrypt, encrypt, mask, remember
from workers.ffmpeg import ladder as engine_ladder

TAGS = ["owncast admin"]

# The ladder encodes every variant with x264 at one preset (workers/ffmpeg/ladder.py).
VIDEO_CODEC = engine_ladder.VIDEO_ENCODER
# Owncast's cpuUsageLevel of each x264 preset (its 1-5: ultrafast … fast).
CPU_USAGE_LEVELS = {"ultrafast": 1, "superfast": 2, "veryfast": 3, "faster": 4, "fast": 5}
# A key the operator chooses: what the native API takes (an RTMP path segment, SRT's
# 10-79 character passphrase).
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,79}$")
_DATA_URI = re.compile(r"^data:image/[a-z0-9.+-]+;base64,(?P<data>[A-Za-z0-9+/=\s]+)$", re.I)
MAX_TAGS, MAX_TAG_LENGTH, MAX_SOCIAL_HANDLES = 20, 50, 20


#: The longest logo value: the media app's largest logo image, base64 in a data: URI.
LOGO_TEXT_LIMIT = -(-asset_max_bytes(AssetKindChoice.LOGO) // 3) * 4 + 256


class Refused(Exception):
    """A setter's value CastCore does not take; the message is Owncast's `message`."""


@dataclass(frozen=True)
class Context:
    stream: LiveStream
    actor: Any
    request: HttpRequest


# --- value checks (Owncast answers a value of the wrong type with success: false)


def _text(value: Any, limit: int, *, blank: bool = True) -> str:
    if not isinstance(value, str) or len(value) > limit or (not blank and not value.strip()):
        raise Refused(f"value must be text of at most {limit} characters")
    return value.strip()


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Refused("value must be true or false")
    return value


def _int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Refused(f"value must be a whole number from {low} to {high}")
    return value


def _texts(value: Any, items: int, limit: int) -> list[str]:
    if not isinstance(value, list) or len(value) > items:
        raise Refused(f"value must be a list of at most {items} texts")
    return [_text(item, limit, blank=False) for item in value]


# --- the stream's own fields


def _update(ctx: Context, **fields: Any) -> str:
    live_stream_update(actor=ctx.actor, stream=ctx.stream, request=ctx.request, **fields)
    return "changed"


def set_name(ctx: Context, value: Any) -> str:
    return _update(ctx, name=_text(value, 200, blank=False))


def set_title(ctx: Context, value: Any) -> str:
    return _update(ctx, title=_text(value, 200))


def set_summary(ctx: Context, value: Any) -> str:
    return _update(ctx, summary=_text(value, 5000))  # markup stripped by the live app


def set_page_content(ctx: Context, value: Any) -> str:
    return _update(ctx, page_content=_text(value, 100_000))  # nh3 by the live app


def set_tags(ctx: Context, value: Any) -> str:
    return _update(ctx, tags=_texts(value, MAX_TAGS, MAX_TAG_LENGTH))


def set_nsfw(ctx: Context, value: Any) -> str:
    return _update(ctx, nsfw=_bool(value))


def set_social_handles(ctx: Context, value: Any) -> str:
    from apps.streams.live.api.serializers import SocialLinkSerializer

    if not isinstance(value, list) or len(value) > MAX_SOCIAL_HANDLES:
        raise Refused(f"value must be a list of at most {MAX_SOCIAL_HANDLES} handles")
    links = SocialLinkSerializer(data=value, many=True)
    links.is_valid(raise_exception=True)  # http(s) URLs, as the native API takes them
    handles = [{"platform": h["platform"], "url": h["url"]} for h in links.validated_data]
    return _update(ctx, social_links=handles)


def set_latency_level(ctx: Context, value: Any) -> str:
    return _update(ctx, latency_level=_int(value, 0, 4))


def set_variants(ctx: Context, value: Any) -> str:
    """The ladder, on the stream; each variant's `cpuUsageLevel` kept beside it in the Owncast
    settings and reported back (every encode uses the ladder's one preset: it sets nothing)."""
    if not isinstance(value, list) or not value:
        raise Refused("value must be a list of variants")
    levels = [_cpu_level(item) for item in value]
    with transaction.atomic():
        _update(ctx, variants=[_variant(index, item) for index, item in enumerate(value)])
        _owncast_extra(ctx, "cpuUsageLevels", levels)
    return "changed"


def _cpu_level(item: Any) -> int:
    level = item.get("cpuUsageLevel") if isinstance(item, dict) else None
    default = CPU_USAGE_LEVELS.get(engine_ladder.VIDEO_PRESET, 3)
    return level if isinstance(level, int) and 1 <= level <= 5 else default


def _variant(index: int, item: Any) -> dict[str, Any]:
    """An Owncast StreamOutputVariant as a ladder variant (the live app checks it).

    Owncast's 0 is "not set": an encode without a size or bitrate gets the default
    ladder's encode (360p at 800 kbit/s), an odd size the even one below (4:2:0). Audio
    is always encoded (AAC) and every encode uses the ladder's preset: `audioPassthrough`
    and `cpuUsageLevel` have nothing to set."""
    if not isinstance(item, dict):
        raise Refused(f"variant {index} must be an object")
    name = item.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", name):
        name = f"variant{index + 1}"

    def number(key: str) -> int | None:
        got = item.get(key)
        if got is None:
            return None
        if isinstance(got, bool) or not isinstance(got, int):
            raise Refused(f"variant {index}: {key} must be a whole number")
        return got or None  # Owncast's 0: "not set"

    def even(key: str) -> int | None:
        got = number(key)
        return None if got is None else got - got % 2

    passthrough = bool(item.get("videoPassthrough", False))
    variant: dict[str, Any] = {"name": name, "passthrough": passthrough}
    if not passthrough:
        default = DEFAULT_VARIANTS[-1]
        width, height = even("scaledWidth"), even("scaledHeight")
        if width and not height:  # a width alone: the height that keeps 16:9
            height = max(16, round(width * 9 / 16 / 2) * 2)
        variant.update(
            width=width,
            height=height or default.height,
            video_bitrate_kbps=number("videoBitrate") or default.video_bitrate_kbps,
            fps=number("framerate"),
        )
    audio_bitrate = number("audioBitrate")
    if audio_bitrate:
        variant["audio_bitrate_kbps"] = audio_bitrate
    return variant


def set_logo(ctx: Context, value: Any) -> str:
    """0.0.10 sends the image as a data URI: it becomes an asset (checked and re-encoded by the
    media app) and the stream's logo. A path (0.0.6's form) is only the current logo's.

    The asset has no uploader (the key holder is no account); the stream's audit entry
    says who set it."""
    text = _text(value, LOGO_TEXT_LIMIT, blank=False)
    # What the stream's logo is called: Owncast's `/logo` (what /api/config names), its asset.
    current = {presenters.web_config(ctx.stream)["logo"]}
    if ctx.stream.logo is not None:
        current.add(asset_url(ctx.stream.logo))
    if text in current:
        return "unchanged"
    match = _DATA_URI.match(text)
    if match is None:
        raise Refused("value must be the image as a data: URI (base64)")
    try:
        data = base64.b64decode(re.sub(r"\s", "", match["data"]), validate=True)
    except (binascii.Error, ValueError):
        raise Refused("value is not valid base64") from None
    with transaction.atomic():
        asset = asset_upload(
            chunks=[data],
            declared_name="logo",
            kind=AssetKindChoice.LOGO,
            name=f"Logo of {ctx.stream.slug}",
            actor=None,
            request=ctx.request,
        )
        _update(ctx, logo=asset)
    return "changed"


def set_key(ctx: Context, value: Any) -> str:
    """The stream key, which is also the admin password: the old one stops working now."""
    key = value if isinstance(value, str) else ""
    if not _KEY.match(key):
        raise Refused("the key must be 16 to 79 letters, digits, - or _")
    live_stream_set_key(actor=ctx.actor, stream=ctx.stream, key=key, request=ctx.request)
    return "changed"


# --- the stream's Owncast-only settings


def _owncast(ctx: Context, **fields: Any) -> str:
    owncast_settings_update(stream=ctx.stream, fields=fields, actor=ctx.actor, request=ctx.request)
    return "changed"


def set_welcome_message(ctx: Context, value: Any) -> str:
    return _owncast(ctx, welcome_message=_text(value, 5000))


def set_custom_styles(ctx: Context, value: Any) -> str:
    return _owncast(ctx, custom_styles=_text(value, 50_000))


def set_external_actions(ctx: Context, value: Any) -> str:
    return _owncast(ctx, external_actions=value)


def set_chat_disabled(ctx: Context, value: Any) -> str:
    return _owncast(ctx, chat_disabled=_bool(value))


def set_join_messages(ctx: Context, value: Any) -> str:
    return _owncast(ctx, chat_join_messages=_bool(value))


# Kept in the stream's Owncast settings (`extra`) and reported back. Forbidden names hold
# on the stream's chat besides the instance's (selectors.forbidden_names, registered with
# the chat app); S3 acts on nothing: live HLS goes to the instance's CASTCORE_LIVE_S3_SOURCE.
S3_TEXT_FIELDS = ("endpoint", "servingEndpoint", "accessKey", "secret", "bucket", "region", "acl")


def set_forbidden_names(ctx: Context, value: Any) -> str:
    names = _texts(value, 200, chat_conf.MAX_NAME_LENGTH)
    return _owncast_extra(ctx, "forbiddenUsernames", names)


def set_s3(ctx: Context, value: Any) -> str:
    if not isinstance(value, dict) or not isinstance(value.get("enabled", False), bool):
        raise Refused("value must be Owncast's S3 object")
    s3: dict[str, Any] = {
        "enabled": value.get("enabled", False),
        "forcePathStyle": bool(value.get("forcePathStyle", False)),
    }
    for name in S3_TEXT_FIELDS:
        s3[name] = _text(value.get(name) or "", 500)
    if s3["secret"]:
        remember(s3["secret"])
        s3["secret"] = encrypt(s3["secret"])  # at rest like every CastCore secret
    return _owncast_extra(ctx, "s3", s3)


def _owncast_extra(ctx: Context, name: str, value: Any) -> str:
    extra = dict(owncast_settings(ctx.stream).extra or {})
    extra[name] = value
    return _owncast(ctx, extra=extra)


def stream_s3(stream: LiveStream, *, with_secret: bool) -> dict[str, Any]:
    """The S3 settings kept for the stream, the secret in clear to its key holder only."""
    s3 = dict((owncast_settings(stream).extra or {}).get("s3") or {})
    if not s3:
        return {"enabled": False, "forcePathStyle": False}
    secret = decrypt(s3["secret"]) if s3.get("secret") else ""
    s3["secret"] = secret if with_secret else mask(secret)
    return s3


# --- fixed: the instance's values (or CastCore's one way), accepted unchanged only


@dataclass(frozen=True)
class Fixed:
    """A setting the stream's Owncast admin cannot change: `current` is CastCore's value,
    `where` says where it is set."""

    current: Callable[[HttpRequest], Any]
    where: str
    matches: Callable[[Any, Any], bool] = lambda value, current: value == current

    def __call__(self, ctx: Context, value: Any) -> str:
        if self.matches(value, self.current(ctx.request)):
            return "unchanged"
        raise Refused(f"not changed per stream: {self.where}")


def _web_port(request: HttpRequest) -> int:
    return int(request.get_port())


def _public_url(request: HttpRequest) -> str:
    return GlobalSettings.load().public_url


def _forbidden_names(request: HttpRequest) -> list[str]:
    return sorted(chat_conf.FORBIDDEN_NAMES)


FIXED: dict[str, Fixed] = {
    "ffmpegpath": Fixed(lambda r: settings.FFMPEG_BINARY, "the instance's FFMPEG_BINARY"),
    "webserverport": Fixed(_web_port, "the port CastCore's web server is started on"),
    "webserverip": Fixed(lambda r: "0.0.0.0", "the address CastCore's web server binds"),  # noqa: S104
    "rtmpserverport": Fixed(lambda r: live_conf.RTMP_PORT, "the instance's CASTCORE_RTMP_PORT"),
    "sockethostoverride": Fixed(lambda r: "", "CastCore serves the chat socket on each base"),
    "serverurl": Fixed(_public_url, "the instance's public_url (global settings)"),
    "directoryenabled": Fixed(lambda r: False, "CastCore registers with no directory"),
    "video/codec": Fixed(lambda r: VIDEO_CODEC, f"the live ladder encodes with {VIDEO_CODEC}"),
    "chat/suggestedusernames": Fixed(lambda r: [], "CastCore names new chat users itself"),
}

#: Every setter by its path under /api/admin/config/.
SETTERS: dict[str, Callable[[Context, Any], str]] = {
    "name": set_name,
    "streamtitle": set_title,
    "serversummary": set_summary,
    "pagecontent": set_page_content,
    "tags": set_tags,
    "nsfw": set_nsfw,
    "logo": set_logo,
    "socialhandles": set_social_handles,
    "video/streamlatencylevel": set_latency_level,
    "video/streamoutputvariants": set_variants,
    "key": set_key,
    "adminpass": set_key,
    "welcomemessage": set_welcome_message,
    "customstyles": set_custom_styles,
    "externalactions": set_external_actions,
    "chat/disable": set_chat_disabled,
    "chat/joinmessagesenabled": set_join_messages,
    "chat/forbiddenusernames": set_forbidden_names,
    "s3": set_s3,
    **FIXED,
}


class ConfigSetterView(AdminView):
    """One `/api/admin/config/<setting>` setter (`setting` given by the URL conf)."""

    setting: str = ""

    @extend_schema(tags=TAGS, request=schema.AdminConfigValue, responses=schema.BASIC)
    def post(self, request: Request, slug: str | None = None) -> Response:
        setter = SETTERS[self.setting]
        if self.setting == "externalactions" and isinstance(request.data, list):
            value: Any = request.data  # 0.0.10 sends the list itself, not {"value": …}
        else:
            value = config_value(request)
        context = Context(stream=self.stream, actor=request.user, request=request)
        try:
            message = setter(context, value)
        except Refused as refused:
            return responses.simple_response(False, str(refused))
        except ApiError as exc:  # the live app's checks: Owncast's shape, CastCore's code
            return responses.simple_response(False, _message(exc))
        return responses.simple_response(True, message)


class LogoSetterView(ConfigSetterView):
    """`config/logo`: the image comes inside the JSON body, so the body may be as large as
    the media app takes a logo (in base64), not the default limit of small JSON bodies."""

    request_body_limit = LOGO_TEXT_LIMIT + 1024  # `{"value": "…"}` around it


def _message(exc: ApiError) -> str:
    field = exc.params.get("field") if exc.params else None
    return f"{exc.code} ({field})" if field else exc.code


# --- /api/admin/serverconfig


def owncast_variant(variant: dict[str, Any], cpu_level: int | None = None) -> dict[str, Any]:
    """A ladder variant as Owncast's StreamOutputVariant."""
    return {
        "name": variant["name"],
        "videoPassthrough": variant["passthrough"],
        "audioPassthrough": False,
        "videoBitrate": variant.get("video_bitrate_kbps") or 0,
        "audioBitrate": variant.get("audio_bitrate_kbps") or 0,
        "scaledWidth": variant.get("width") or 0,
        "scaledHeight": variant.get("height") or 0,
        "framerate": round(variant.get("fps") or 0),
        "cpuUsageLevel": cpu_level or CPU_USAGE_LEVELS.get(engine_ladder.VIDEO_PRESET, 3),
    }


def server_config(stream: LiveStream, request: HttpRequest, *, with_key: bool) -> dict[str, Any]:
    """Owncast's serverConfigAdminResponse. The stream key is in it only for a caller who
    authenticated with that key (Owncast's admin password): nowhere else is it in clear."""
    web = presenters.web_config(stream)
    extra = owncast_settings(stream)
    variants = stream.variants or engine_ladder.variants_to_json(DEFAULT_VARIANTS)
    levels = list((extra.extra or {}).get("cpuUsageLevels") or [])
    key = stream.ingest_key if with_key else ""
    return {
        "instanceDetails": {
            "name": web["name"],
            "summary": stream.summary,  # as set (/api/config renders it as Markdown)
            "welcomeMessage": extra.welcome_message,
            "logo": web["logo"],
            "tags": web["tags"],
            "version": web["version"],
            "nsfw": web["nsfw"],
            "extraPageContent": web["extraPageContent"],
            "streamTitle": web["streamTitle"],
            "socialHandles": web["socialHandles"],
            "customStyles": extra.custom_styles,
        },
        "ffmpegPath": settings.FFMPEG_BINARY,
        "streamKey": key,
        "adminPassword": key,
        "webServerPort": _web_port(request),
        "webServerIP": "0.0.0.0",  # noqa: S104 (reported, not bound)
        "rtmpServerPort": live_conf.RTMP_PORT,
        "s3": stream_s3(stream, with_secret=with_key),
        "videoSettings": {
            "videoQualityVariants": [
                owncast_variant(v, levels[i] if i < len(levels) and stream.variants else None)
                for i, v in enumerate(variants)
            ],
            "latencyLevel": stream.latency_level,
        },
        "yp": {"enabled": False, "instanceUrl": _public_url(request)},
        "chatDisabled": extra.chat_disabled,
        "chatJoinMessagesEnabled": extra.chat_join_messages,
        "forbiddenUsernames": (extra.extra or {}).get("forbiddenUsernames")
        or _forbidden_names(request),
        "suggestedUsernames": [],
        "externalActions": list(extra.external_actions or []),
        "supportedCodecs": [VIDEO_CODEC],
        "videoCodec": VIDEO_CODEC,
    }


class ServerConfigView(AdminView):
    """The stream's configuration as Owncast's admin reads it."""

    @extend_schema(
        tags=TAGS, summary="Server Configuration", responses={200: schema.AdminServerConfig}
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        stream = self.stream
        stream.refresh_from_db()  # the key as stored (the digest matched it)
        return Response(server_config(stream, request, with_key=self.holds_key))
