"""Writes of the system app: worker heartbeats, global settings and key rotation."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.system.models import WorkerHeartbeat
from castcore.secrets import EncryptedTextField, rotate


def worker_heartbeat_record(
    *, hostname: str, queues: list[str], embedded: bool, started_at: datetime
) -> None:
    """Upsert this worker's heartbeat row; called on a timer inside the worker."""
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={
            "pid": os.getpid(),
            "queues": sorted(queues),
            "embedded": embedded,
            "started_at": started_at,
            "last_seen": now,
        },
    )


def default_hostname(prefix: str = "celery") -> str:
    return f"{prefix}@{socket.gethostname()}"


@dataclass
class SecretsRotation:
    """What `secrets_rotate` did: rows re-encrypted, and the encrypted columns of each model."""

    rows: int = 0
    columns: dict[str, list[str]] = field(default_factory=dict)


def secrets_rotate(*, actor: Any = None) -> SecretsRotation:
    """Re-encrypt every secret at rest with the newest key of CASTCORE_FERNET_KEYS.

    Audited as `secrets.rotate` with the count and the columns, never a value.
    """
    rotation = SecretsRotation()
    for model in apps.get_models():
        fields = [f for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
        if not fields:
            continue
        names = [f.attname for f in fields]
        # Cast to a plain TextField so from_db_value does not decrypt: we
        # rotate ciphertext without ever holding the secrets in clear.
        raw = {f"raw_{n}": Cast(F(n), output_field=TextField()) for n in names}
        rows = model._default_manager.annotate(**raw).values_list("pk", *raw)
        with transaction.atomic():
            for pk, *tokens in list(rows):
                updates = {n: rotate(t) for n, t in zip(names, tokens, strict=True) if t}
                if updates:
                    model._default_manager.filter(pk=pk).update(**_raw(updates))
                    rotation.rows += 1
        rotation.columns[model._meta.label] = names
    audit_record(
        actor=actor,
        action="secrets.rotate",
        changes={"rows": [None, rotation.rows], "columns": [None, rotation.columns]},
    )
    return rotation


def _raw(updates: dict[str, str]) -> dict[str, Any]:
    # update() would run get_prep_value and encrypt the ciphertext again.
    return {name: Value(token, output_field=TextField()) for name, token in updates.items()}


#: Set (in the shared cache: Redis when distributed) while free space is low and
#: system.disk_low has been announced; cleared with system.disk_recovered.
DISK_LOW_KEY = "castcore:system.disk_low"
#: Free space must come back this far above the threshold (a tenth of it) to count as
#: recovered: a disk that hovers at the threshold announces once, not at every check.
DISK_RECOVER_MARGIN = 0.10


def disk_space_watch() -> str | None:
    """Announce a low disk once when free space falls below CASTCORE_HEALTH_MIN_FREE_MB on
    a filesystem CastCore writes to (`system.disk_low`), and once when every one is back
    above it by the margin (`system.disk_recovered`); "low", "recovered" or None.

    The state is a cache key set with `add` and cleared with `delete`, both of which
    only one caller wins, so two beats or workers never announce one crossing twice.
    """
    from django.core.cache import cache

    from apps.system import conf
    from apps.system.health import disk_folders
    from castcore.events import emit

    threshold = conf.HEALTH_MIN_FREE_MB * 1024 * 1024
    folders = [f for f in disk_folders(threshold) if "free_bytes" in f]  # unreadable: no news
    low = [f for f in folders if f["free_bytes"] < threshold]
    recover_at = int(threshold * (1 + DISK_RECOVER_MARGIN))
    if low:
        if cache.add(DISK_LOW_KEY, 1, timeout=None):
            emit(
                "system.disk_low",
                {
                    "folders": [f["path"] for f in low],
                    "free_bytes": min(f["free_bytes"] for f in low),
                    "min_free_bytes": threshold,
                },
                subject="system:disk",
            )
            return "low"
    elif all(f["free_bytes"] >= recover_at for f in folders) and cache.delete(DISK_LOW_KEY):
        emit(
            "system.disk_recovered",
            {
                "folders": [f["path"] for f in folders],
                "free_bytes": min((f["free_bytes"] for f in folders), default=None),
                "min_free_bytes": threshold,
            },
            subject="system:disk",
        )
        return "recovered"
    return None
