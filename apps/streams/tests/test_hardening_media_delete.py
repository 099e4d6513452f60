"""A storage source that a stream job reads (an item of it, or a folder) cannot be deleted:
409 storage_source.in_use naming the jobs, instead of a ProtectedError 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.media.models import StorageSource
from apps.media.tests.factories import make_item, make_source
from apps.streams.models import InputKind, StreamJob
from apps.streams.tests.factories import job_with_outputs

pytestmark = pytest.mark.django_db


def test_a_source_whose_item_a_job_plays_is_not_deleted(
    admin_api: APIClient, tmp_path: Path
) -> None:
    source = make_source(path=str(tmp_path))
    item = make_item(source=source, relpath="show.mp4")
    job = job_with_outputs({}, input_kind=InputKind.MEDIA_ITEM, input_media_item=item)
    response = admin_api.delete(f"/api/v1/storage-sources/{source.pk}")
    assert response.status_code == 409, response.content
    assert response.json()["error"] == {
        "code": "storage_source.in_use",
        "params": {"jobs": [job.pk]},
        "level": "error",
    }
    assert StorageSource.objects.filter(pk=source.pk).exists()


def test_a_source_whose_folder_jobs_play_lists_every_job(
    admin_api: APIClient, tmp_path: Path
) -> None:
    source = make_source(path=str(tmp_path))
    make_item(source=source, relpath="a/show.mp4")
    folder: dict[str, Any] = {"input_kind": InputKind.MEDIA_FOLDER, "input_media_source": source}
    jobs = [job_with_outputs({}, input_media_folder="a", **folder) for _ in range(2)]
    response = admin_api.delete(f"/api/v1/storage-sources/{source.pk}")
    assert response.status_code == 409
    assert response.json()["error"]["params"]["jobs"] == [job.pk for job in jobs]


def test_a_source_no_job_uses_is_deleted(admin_api: APIClient, tmp_path: Path) -> None:
    source = make_source(path=str(tmp_path))
    make_item(source=source, relpath="show.mp4")
    job_with_outputs({})  # a job on a test pattern
    assert admin_api.delete(f"/api/v1/storage-sources/{source.pk}").status_code == 204
    assert StreamJob.objects.count() == 1
