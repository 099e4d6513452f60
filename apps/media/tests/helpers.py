"""Small helpers shared by the media API tests."""

from __future__ import annotations

from typing import Any

from apps.media.models import MediaItem, MediaScan, StorageSource
from workers.scans import scan_storage_source


def scan_via_api(client: Any, source: StorageSource, *, full: bool = False) -> MediaScan:
    """POST /storage-sources/{id}/scan, then run the queued scan with the task function."""
    response = client.post(
        f"/api/v1/storage-sources/{source.pk}/scan", {"full": full}, format="json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "queued"
    scan_storage_source(response.json()["id"])  # the task body, as the worker runs it
    return MediaScan.objects.get(pk=response.json()["id"])


def probed_at(source: StorageSource) -> dict[str, Any]:
    return dict(MediaItem.objects.filter(source=source).values_list("relpath", "probed_at"))
