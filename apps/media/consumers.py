"""WS /api/v1/ws/scans/{scan_id} and /api/v1/ws/storage-sources/{source_id}/scans.

On connect the client gets the scan's current state (a late subscriber is
never blind), then every update the scan service publishes. Permission is
re-checked before each event, as in apps/system/consumers.py.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.accounts.roles import Role, role_at_least
from apps.media.models import MediaScan, StorageSource
from apps.media.selectors import scan_snapshot
from castcore.ws import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    refuse,
    route_id,
)


@database_sync_to_async
def _still_allowed(user: Any, role: Role) -> bool:
    user.refresh_from_db(fields=["is_active", "role"])
    return role_at_least(user, role)


@database_sync_to_async
def _scan(scan_id: int) -> dict[str, Any] | None:
    scan = MediaScan.objects.filter(pk=scan_id).first()
    return scan_snapshot(scan) if scan else None


@database_sync_to_async
def _source_exists(source_id: int) -> bool:
    return StorageSource.objects.filter(pk=source_id).exists()


class _ScanEventsConsumer(AsyncJsonWebsocketConsumer):
    role = Role.VIEWER
    group: str = ""

    async def _authorise(self) -> bool:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await refuse(self, CLOSE_UNAUTHENTICATED)
            return False
        if not await _still_allowed(user, self.role):
            await refuse(self, CLOSE_FORBIDDEN)
            return False
        return True

    async def _join(self, group: str) -> None:
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def scan_update(self, event: dict[str, Any]) -> None:
        if not await _still_allowed(self.scope["user"], self.role):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.send_json({"event": event["event"], "scan": event["scan"]})


class ScanConsumer(_ScanEventsConsumer):
    """One scan, for anyone who may read scans (Viewer)."""

    async def connect(self) -> None:
        if not await self._authorise():
            return
        scan_id = route_id(self.scope, "scan_id")
        snapshot = None if scan_id is None else await _scan(scan_id)
        if snapshot is None:
            await refuse(self, CLOSE_NOT_FOUND)
            return
        await self._join(f"scan.{scan_id}")
        await self.send_json({"event": "snapshot", "scan": snapshot})


class SourceScansConsumer(_ScanEventsConsumer):
    """Every scan of one source; sources are Operator-level configuration."""

    role = Role.OPERATOR

    async def connect(self) -> None:
        if not await self._authorise():
            return
        source_id = route_id(self.scope, "source_id")
        if source_id is None or not await _source_exists(source_id):
            await refuse(self, CLOSE_NOT_FOUND)
            return
        await self._join(f"source.{source_id}.scans")
