from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.roles import Role
from apps.integrations import notify, tokens, webhooks
from apps.integrations.api import serializers as s
from apps.integrations.models import (
    IntegrationToken,
    NotificationTarget,
    Webhook,
    WebhookDelivery,
)
from apps.integrations.signing import new_secret
from castcore.api.viewsets import CastCoreViewSet


class WebhookViewSet(CastCoreViewSet):
    """Endpoints that receive signed domain events (Standard Webhooks). Admins only."""

    queryset = Webhook.objects.all()
    serializer_class = s.WebhookSerializer
    ordering_fields = ["name", "created_at"]
    filterset_fields = ["active"]
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    error_statuses: ClassVar[dict[str, str]] = {}

    @extend_schema(responses={201: s.WebhookCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.WebhookSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        generated = "secret" not in data.validated_data
        if generated:
            data.validated_data["secret"] = new_secret()
        webhook = webhooks.webhook_save_audited(
            data, actor=request.user, request=request, action="webhook.create"
        )
        body = s.WebhookSerializer(webhook).data
        if generated:
            body["secret"] = webhook.secret  # the one time it is shown
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: Any) -> None:
        was_active = serializer.instance.active
        webhook = webhooks.webhook_save_audited(
            serializer, actor=self.request.user, request=self.request, action="webhook.update"
        )
        if webhook.active and not was_active:
            webhooks.webhook_reactivated(webhook)
            webhook.refresh_from_db()


class WebhookDeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """Each event sent (or being sent) to each webhook: outcome, attempts, next attempt."""

    queryset = WebhookDelivery.objects.select_related("event")
    serializer_class = s.WebhookDeliverySerializer
    ordering_fields = ["created_at", "next_attempt_at"]
    filterset_fields = ["webhook", "state"]
    read_role = Role.ADMIN
    action_roles = {"redeliver": Role.ADMIN}
    error_statuses: ClassVar[dict[str, str]] = {}

    @extend_schema(request=None, responses={202: s.WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk: str | None = None) -> Response:
        """Send this event to this webhook again now (same webhook-id)."""
        delivery = webhooks.delivery_redeliver(
            actor=request.user, delivery=self.get_object(), request=request
        )
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class NotificationTargetViewSet(CastCoreViewSet):
    """apprise URLs told about the events they subscribe to. Admins only."""

    queryset = NotificationTarget.objects.all()
    serializer_class = s.NotificationTargetSerializer
    ordering_fields = ["name", "created_at"]
    filterset_fields = ["active", "min_level"]
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    audit_area = "notification"
    error_statuses: ClassVar[dict[str, str]] = {}

    @extend_schema(request=None, responses={200: s.NotificationTestSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Send a test message now and say whether it went out (`error_code` if not)."""
        result = notify.target_test(target=self.get_object())
        return Response({"ok": result.ok, "error_code": result.error_code})


class IntegrationTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Access tokens for bots and services (no person behind them); DELETE revokes. Admins only."""

    queryset = IntegrationToken.objects.all()
    serializer_class = s.IntegrationTokenSerializer
    ordering_fields = ["created_at", "last_used_at", "name"]
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    error_statuses: ClassVar[dict[str, str]] = {}

    @extend_schema(responses={201: s.IntegrationTokenCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.IntegrationTokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = tokens.integration_token_create(
            actor=request.user, request=request, **data.validated_data
        )
        body = s.IntegrationTokenSerializer(issued.token).data
        body["token"] = issued.raw
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: IntegrationToken) -> None:
        tokens.integration_token_revoke(
            actor=self.request.user, token=instance, request=self.request
        )
