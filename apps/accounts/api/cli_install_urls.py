"""Install-ID (asciinema CLI) routes, mounted under /api/v1/ by apps.accounts.api.urls."""

from typing import Any

from rest_framework.routers import SimpleRouter

from apps.accounts.api.cli_installs import CliInstallViewSet

router = SimpleRouter(trailing_slash=False)
router.register("cli-installs", CliInstallViewSet, basename="cli-install")

urlpatterns: list[Any] = [*router.urls]
