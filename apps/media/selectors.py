"""Reads of the media app shared by the API, the socket and the scan service."""

from __future__ import annotations

from typing import Any, TypedDict

from django.conf import settings
from django.db.models import QuerySet

from apps.accounts.roles import Role, role_at_least
from apps.media.models import ACTIVE_SCAN_STATES, Asset, MediaScan, StorageSource

SCAN_FIELDS = (
    "id", "source_id", "state", "full", "total", "to_probe", "probed", "new", "changed",
    "unchanged", "missing", "failed", "progress", "error_code", "error_detail",
)  # fmt: skip


class ScanEvent(TypedDict):
    """What scan sockets receive; `type` names the consumer handler."""

    type: str  # "scan.update"
    event: str  # queued, started, progress, done, failed
    scan: dict[str, Any]


def scan_snapshot(scan: MediaScan) -> dict[str, Any]:
    """A scan as plain JSON: the socket payload and the API body share its fields."""
    data: dict[str, Any] = {name: getattr(scan, name) for name in SCAN_FIELDS}
    for name in ("created_at", "started_at", "finished_at"):
        value = getattr(scan, name)
        data[name] = value.isoformat() if value else None
    return data


def scan_groups(scan: MediaScan) -> tuple[str, str]:
    """The channel-layer groups a scan publishes to: its own and its source's."""
    return f"scan.{scan.pk}", f"source.{scan.source_id}.scans"


def active_scan(source: StorageSource) -> MediaScan | None:
    return MediaScan.objects.filter(source=source, state__in=ACTIVE_SCAN_STATES).first()


def asset_url(asset: Asset) -> str:
    """Where an asset's sanitised file is served (MEDIA_URL; apps/media/views.py)."""
    return f"/{settings.MEDIA_URL.strip('/')}/{asset.file.name}"


def usable_assets(user: Any) -> QuerySet[Asset]:
    """The assets `user` may put on what they own (a live stream's logo): Admins any,
    others those they uploaded. Reading an asset's file is wider (any signed-in Viewer)."""
    if role_at_least(user, Role.ADMIN):
        return Asset.objects.all()
    if user is None or not getattr(user, "is_authenticated", False):
        return Asset.objects.none()
    return Asset.objects.filter(uploaded_by=user)
