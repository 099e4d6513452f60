"""Writes of the Owncast admin API that are not the live stream's own: a stream's
Owncast-only settings, its access tokens and its webhooks. Each goes through the app
that owns the row (integrations' token and webhook services) and is audited.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.http import HttpRequest

from apps.accounts.audit import audit_record, update_audited
from apps.integrations import tokens
from apps.integrations.api.serializers import WebhookSerializer
from apps.integrations.models import IntegrationToken, Webhook, WebhookFormat
from apps.integrations.signing import new_secret
from apps.integrations.tokens import IssuedIntegrationToken
from apps.integrations.webhooks import webhook_save_audited
from apps.owncast.auth import castcore_scopes
from apps.owncast.models import StreamOwncastSettings, TokenLink
from apps.streams.live.validation import clean_page_content, strip_markup
from apps.streams.models import LiveStream
from castcore.api.errors import ApiError

#: What an external action (a button beside the player) may hold, and how long each field is.
EXTERNAL_ACTION_FIELDS = {"url": 500, "title": 100, "description": 500, "icon": 500, "color": 32}
MAX_EXTERNAL_ACTIONS = 20


def check_external_actions(actions: Any) -> list[dict[str, Any]]:
    """Owncast's external actions as stored: http(s) URLs, text fields bounded and stripped of
    markup, `openExternally` a boolean; ApiError (400) naming the item and field."""
    if not isinstance(actions, list) or len(actions) > MAX_EXTERNAL_ACTIONS:
        raise ApiError("validation.invalid", {"field": "value", "max_items": MAX_EXTERNAL_ACTIONS})
    cleaned = []
    for index, action in enumerate(actions):
        where = f"value[{index}]"
        if not isinstance(action, dict):
            raise ApiError("validation.invalid", {"field": where})
        item: dict[str, Any] = {}
        for name, limit in EXTERNAL_ACTION_FIELDS.items():
            value = action.get(name) or ""
            if not isinstance(value, str) or len(value) > limit:
                raise ApiError(
                    "validation.invalid", {"field": f"{where}.{name}", "max_length": limit}
                )
            item[name] = strip_markup(value)
        for name in ("url", "icon"):
            parts = urlsplit(item[name])
            if item[name] and (parts.scheme not in ("http", "https") or not parts.netloc):
                raise ApiError("validation.invalid_url", {"field": f"{where}.{name}"})
        for name in ("url", "title"):
            if not item[name]:
                raise ApiError("validation.required", {"field": f"{where}.{name}"})
        opens = action.get("openExternally", False)
        if not isinstance(opens, bool):
            raise ApiError("validation.invalid", {"field": f"{where}.openExternally"})
        item["openExternally"] = opens
        cleaned.append(item)
    return cleaned


def owncast_settings_update(
    *, stream: LiveStream, fields: dict[str, Any], actor: Any, request: HttpRequest | None = None
) -> StreamOwncastSettings:
    """Change a stream's Owncast-only settings; HTML and CSS are cleaned before they are
    stored (the welcome message as page content is, the styles stripped of all markup)."""
    if "welcome_message" in fields:
        fields["welcome_message"] = clean_page_content(fields["welcome_message"])
    if "custom_styles" in fields:
        fields["custom_styles"] = strip_markup(fields["custom_styles"])
    if "external_actions" in fields:
        fields["external_actions"] = check_external_actions(fields["external_actions"])
    with transaction.atomic():
        settings_row, _ = StreamOwncastSettings.objects.select_for_update().get_or_create(
            stream=stream
        )
        update_audited(
            settings_row,
            fields,
            actor=actor,
            action="owncast.settings_update",
            request=request,
            also_save=["updated_at"],
        )
    return settings_row


def stream_tokens(stream: LiveStream) -> Any:
    """The access tokens an Owncast admin of `stream` sees: those bound to it, and those
    bound to no stream (which work on its base too); never revoked ones."""
    bound_elsewhere = TokenLink.objects.filter(bound=True).exclude(stream=stream)
    return (
        IntegrationToken.objects.filter(revoked_at__isnull=True)
        .exclude(pk__in=bound_elsewhere.values("token_id"))
        .select_related("owncast_link")
        .order_by("created_at", "id")
    )


@transaction.atomic
def owncast_token_create(
    *,
    stream: LiveStream,
    name: Any,
    scopes: Any,
    actor: Any,
    request: HttpRequest | None = None,
) -> IssuedIntegrationToken:
    """An integrations access token with Owncast's scopes, bound to `stream` (its key
    holder administers that stream alone). Its value is kept encrypted: the Owncast list
    shows it to the stream's key holder, as Owncast lists its tokens."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ApiError("validation.invalid", {"field": "name", "max_length": 100})
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise ApiError("validation.required", {"field": "scopes"})
    try:
        granted = castcore_scopes(scopes)
    except ValueError as exc:
        raise ApiError(
            "validation.invalid_choice", {"field": "scopes", "value": str(exc)}
        ) from None
    issued = tokens.integration_token_create(
        actor=actor, name=name.strip(), scopes=granted, keep_value=True, request=request
    )
    TokenLink.objects.create(token=issued.token, bound=True, stream=stream)
    return issued


def owncast_token_delete(
    *, stream: LiveStream, token: IntegrationToken, actor: Any, request: HttpRequest | None = None
) -> None:
    """Revoke a token of `stream`; a token bound to no stream is the instance's: 400."""
    link = TokenLink.objects.filter(token=token).first()
    if link is None or not link.bound or link.stream_id != stream.pk:
        raise ApiError("owncast.token_not_this_streams")
    tokens.integration_token_revoke(actor=actor, token=token, request=request)


def owncast_webhook_create(
    *, stream: LiveStream, url: Any, events: Any, actor: Any, request: HttpRequest | None = None
) -> Webhook:
    """A webhook in Owncast's format for `stream`'s events, checked and saved as the native
    API saves one (URL rules, address policy, event names); its secret is made here."""
    data = WebhookSerializer(
        data={
            "name": f"Owncast: {stream.slug}"[:100],
            "url": url,
            "events": events,
            "format": WebhookFormat.OWNCAST,
            "live_stream": stream.pk,
        }
    )
    data.is_valid(raise_exception=True)
    data.validated_data["secret"] = new_secret()
    return webhook_save_audited(data, actor=actor, request=request, action="webhook.create")


def owncast_webhook_delete(
    *, webhook: Webhook, actor: Any, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="webhook.delete", target=webhook, request=request)
        webhook.delete()
