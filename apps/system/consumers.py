"""WS /api/v1/ws/system: CPU, memory, disk, network and process counts."""

from __future__ import annotations

import asyncio
from typing import Any

import psutil
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from apps.accounts.roles import Role, role_at_least
from castcore.ws import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, refuse

DEFAULT_INTERVAL_SECONDS = 2.0


def system_snapshot() -> dict[str, Any]:
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(settings.VAR_DIR))
    network = psutil.net_io_counters()
    ffmpeg_count = 0
    for process in psutil.process_iter(["name"]):
        if process.info.get("name") == "ffmpeg":
            ffmpeg_count += 1
    return {
        "type": "system",
        "cpu_percent": psutil.cpu_percent(interval=None),
        "cpu_count": psutil.cpu_count(),
        "load_average": list(psutil.getloadavg()),
        "memory": {"total": memory.total, "used": memory.used, "percent": memory.percent},
        "disk": {
            "total": disk.total,
            "used": disk.used,
            "free": disk.free,
            "percent": disk.percent,
        },
        "network": {"bytes_sent": network.bytes_sent, "bytes_recv": network.bytes_recv},
        "processes": {"total": len(psutil.pids()), "ffmpeg": ffmpeg_count},
    }


@database_sync_to_async
def _still_allowed(user: Any) -> bool:
    user.refresh_from_db(fields=["is_active", "role"])
    return role_at_least(user, Role.VIEWER)


class SystemConsumer(AsyncJsonWebsocketConsumer):
    interval = DEFAULT_INTERVAL_SECONDS

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await refuse(self, CLOSE_UNAUTHENTICATED)
            return
        await self.accept()
        self._task = asyncio.create_task(self._publish())

    async def disconnect(self, code: int) -> None:
        task = getattr(self, "_task", None)
        if task is not None:
            task.cancel()

    async def _publish(self) -> None:
        while True:
            # Permission is checked before every event: a deactivated user's
            # open socket stops receiving at once.
            if not await _still_allowed(self.scope["user"]):
                await self.close(code=CLOSE_FORBIDDEN)
                return
            await self.send_json(await asyncio.to_thread(system_snapshot))
            await asyncio.sleep(self.interval)
