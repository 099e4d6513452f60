"""/api/v1/cli-installs: the signed-in user's asciinema CLI installs; DELETE revokes."""

from __future__ import annotations

from typing import Any

from rest_framework import mixins, serializers, viewsets

from apps.accounts import cli_installs
from apps.accounts.models import CliInstall
from apps.accounts.roles import Role
from castcore.api.fields import ModelSerializer
from castcore.secrets import mask


class CliInstallSerializer(ModelSerializer[CliInstall]):
    """An install, identified by its masked ID (the ID itself is never stored)."""

    install_id = serializers.SerializerMethodField()
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = CliInstall
        fields = [
            "id",
            "install_id",
            "user",
            "user_agent",
            "created_at",
            "last_used_at",
            "revoked_at",
            "revoked",
        ]
        read_only_fields = fields

    def get_install_id(self, obj: CliInstall) -> str:
        return mask("x" * 8 + obj.last4)

    def get_revoked(self, obj: CliInstall) -> bool:
        return obj.revoked_at is not None


class CliInstallViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[CliInstall],
):
    """Own installs (Admins: everyone's). DELETE revokes: the CLI gets 401 from then on."""

    serializer_class = CliInstallSerializer
    write_role = Role.VIEWER
    ordering_fields = ["created_at", "last_used_at"]
    queryset = CliInstall.objects.all()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return CliInstall.objects.none()
        return cli_installs.cli_installs_for(self.request.user)

    def perform_destroy(self, instance: CliInstall) -> None:
        cli_installs.cli_install_revoke(
            install=instance, actor=self.request.user, request=self.request
        )
