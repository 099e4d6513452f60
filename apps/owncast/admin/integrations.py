"""Owncast admin: access tokens and webhooks, as the integrations app's rows.

A token made here is an IntegrationToken (listed by /api/v1/access-tokens too, masked)
bound to the stream (apps.owncast.models.TokenLink). Owncast lists its tokens in clear:
this list does so to the stream's key holder, the trust that made them (their value is
kept encrypted for it); to a token caller, and for tokens made natively (a hash only),
masked. A webhook made here is a Webhook in Owncast's format for the stream's events
(listed by /api/v1/webhooks too), signed and retried by CastCore's delivery; its URL is
in clear to the key holder, as scheme and host everywhere else.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.integrations.models import IntegrationToken, Webhook
from apps.integrations.tokens import integration_token_find
from apps.owncast import responses
from apps.owncast.admin import schema, services
from apps.owncast.admin.base import AdminView
from apps.owncast.auth import owncast_scopes
from apps.owncast.presenters import owncast_time
from castcore.api.filters import parse_id

TAGS = ["owncast admin"]


def _token(token: IntegrationToken, raw: str = "", asked: Any = None) -> dict[str, Any]:
    """Owncast's ExternalAPIUser: a token is a user of the chat (its bot's name). The create
    answer names the scopes in the order they were asked for, as Owncast echoes them."""
    held = owncast_scopes(token.scopes)
    if isinstance(asked, list):
        held = list(dict.fromkeys(name for name in asked if name in held))
    return {
        "id": str(token.pk),
        "accessToken": raw or token.masked,  # the value only when the caller may see it
        "displayName": token.name,
        "displayColor": 0,
        "createdAt": owncast_time(token.created_at),
        "scopes": held,
        "type": "API",
        "lastUsedAt": owncast_time(token.last_used_at),
    }


def _data(request: Request) -> dict[str, Any]:
    return request.data if isinstance(request.data, dict) else {}


class AccessTokensView(AdminView):
    """The access tokens that work on this stream's base (its own, and unbound ones)."""

    @extend_schema(
        tags=TAGS,
        summary="Return all access tokens.",
        responses={200: schema.AdminAccessToken(many=True)},
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        return Response(
            [
                _token(token, token.kept_value if self.holds_key else "")
                for token in services.stream_tokens(self.stream)
            ]
        )


class AccessTokenCreateView(AdminView):
    """A token with Owncast's scopes for this stream, shown this once."""

    @extend_schema(
        tags=TAGS,
        summary="Create an access token.",
        request=schema.AdminAccessTokenCreate,
        responses={200: schema.AdminAccessToken},
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        data = _data(request)
        issued = services.owncast_token_create(
            stream=self.stream,
            name=data.get("name"),
            scopes=data.get("scopes"),
            actor=request.user,
            request=request,
        )
        return Response(_token(issued.token, issued.raw, asked=data.get("scopes")))


class AccessTokenDeleteView(AdminView):
    """Revoke one of this stream's tokens, named by its value or its id."""

    @extend_schema(
        tags=TAGS,
        summary="Delete an access token.",
        request=schema.AdminAccessTokenDelete,
        responses=schema.BASIC,
    )
    def post(self, request: Request, slug: str | None = None) -> Response:
        given = _data(request).get("token")
        if not isinstance(given, str) or not given:
            return responses.simple_response(False, "token is required")
        token = integration_token_find(given)
        if token is None and (token_id := parse_id(given)) is not None:
            token = IntegrationToken.objects.filter(pk=token_id, revoked_at__isnull=True).first()
        if token is None:
            return responses.simple_response(False, "no such token")
        services.owncast_token_delete(
            stream=self.stream, token=token, actor=request.user, request=request
        )
        return responses.simple_response(True, "deleted token")


def _webhook(webhook: Webhook, *, in_clear: bool) -> dict[str, Any]:
    """Owncast's Webhook; its URL in clear to the stream's key holder only (who made it:
    the same trust as the key itself), as scheme and host elsewhere."""
    return {
        "id": webhook.pk,
        "url": webhook.url if in_clear else webhook.shown_url,
        "events": list(webhook.events),
        "timestamp": owncast_time(webhook.created_at),
        "lastUsed": owncast_time(webhook.last_success_at),
    }


class WebhooksView(AdminView):
    """The webhooks of this stream's events."""

    @extend_schema(
        tags=TAGS, summary="Return all webhooks.", responses={200: schema.AdminWebhook(many=True)}
    )
    def get(self, request: Request, slug: str | None = None) -> Response:
        webhooks = Webhook.objects.filter(live_stream=self.stream).order_by("created_at", "pk")
        return Response([_webhook(webhook, in_clear=self.holds_key) for webhook in webhooks])


class WebhookCreateView(AdminView):
    """A webhook that gets this stream's events in Owncast's shape; the answer carries the
    signing secret, this once (receivers may check CastCore's signature headers)."""

    @extend_schema(
        tags=TAGS, summary="Create a webhook.", request=schema.AdminWebhookCreate,
        responses={200: schema.AdminWebhook},
    )  # fmt: skip
    def post(self, request: Request, slug: str | None = None) -> Response:
        data = _data(request)
        webhook = services.owncast_webhook_create(
            stream=self.stream,
            url=data.get("url"),
            events=data.get("events"),
            actor=request.user,
            request=request,
        )
        return Response({**_webhook(webhook, in_clear=self.holds_key), "secret": webhook.secret})


class WebhookDeleteView(AdminView):
    """Delete one of this stream's webhooks by its id."""

    @extend_schema(
        tags=TAGS, summary="Delete a single webhook.", request=schema.AdminWebhookDelete,
        responses=schema.BASIC,
    )  # fmt: skip
    def post(self, request: Request, slug: str | None = None) -> Response:
        given = _data(request).get("id", "")
        webhook_id = parse_id(str(given)) if isinstance(given, str | int) else None
        webhook = (
            Webhook.objects.filter(pk=webhook_id, live_stream=self.stream).first()
            if webhook_id is not None
            else None
        )
        if webhook is None:
            return responses.simple_response(False, "no such webhook")
        services.owncast_webhook_delete(webhook=webhook, actor=request.user, request=request)
        return responses.simple_response(True, "deleted webhook")
