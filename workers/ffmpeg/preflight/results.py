"""Check results and options shared by every preflight check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from workers.ffmpeg.addresses import DEFAULT_POLICY, AddressPolicy

GIB = 1024**3


class Status(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "code": self.code,
            "params": self.params,
            "message": self.message,
        }


@dataclass(frozen=True)
class PreflightOptions:
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    probe_timeout_s: float = 15.0
    dns_timeout_s: float = 5.0
    connect_timeout_s: float = 5.0
    disk_red_bytes: int = 1 * GIB
    disk_yellow_bytes: int = 10 * GIB
    # Directories written besides the outputs (e.g. the job's recording folder).
    extra_write_dirs: tuple[str, ...] = ()
    # What output hosts may resolve to (castcore.addresses): checked before connecting.
    addresses: AddressPolicy = DEFAULT_POLICY


def overall(results: Sequence[CheckResult | dict[str, Any]]) -> Status:
    """Red if any check is red, else yellow if any is yellow, else green."""
    statuses = {Status(r["status"] if isinstance(r, dict) else r.status) for r in results}
    for status in (Status.RED, Status.YELLOW):
        if status in statuses:
            return status
    return Status.GREEN


def result(name: str, status: Status, code: str, message: str, **params: Any) -> CheckResult:
    return CheckResult(name=name, status=status, code=code, params=params, message=message)
