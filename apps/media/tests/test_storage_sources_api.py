"""GET/POST/PATCH/DELETE /storage-sources: typed config per kind, secrets write-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.accounts.models import AuditEntry
from apps.media.models import MediaItem, StorageSource
from apps.media.tests.factories import make_item, make_s3_source, make_source

pytestmark = pytest.mark.django_db

S3 = {
    "name": "bucket", "kind": "s3", "endpoint_url": "http://127.0.0.1:9000", "region": "eu-west-1",
    "bucket": "media", "access_key": "AKIAEXAMPLE", "secret_key": "very-secret-key-9876",
}  # fmt: skip


def test_admins_create_an_s3_source_and_never_see_the_secret_again(admin_api: Any) -> None:
    response = admin_api.post("/api/v1/storage-sources", S3, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["secret_key"] == "••••9876"
    assert "very-secret-key-9876" not in response.content.decode()
    source = StorageSource.objects.get(name="bucket")
    assert source.secret_key == "very-secret-key-9876"  # decrypted in memory only
    audit = AuditEntry.objects.get(action="storage_source.create")
    assert "very-secret-key-9876" not in str(audit.changes)
    listed = admin_api.get("/api/v1/storage-sources").json()
    assert listed["total"] == 1 and "very-secret-key-9876" not in str(listed)


def test_the_secret_is_encrypted_at_rest(admin_api: Any) -> None:
    from django.db import connection

    admin_api.post("/api/v1/storage-sources", S3, format="json")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_key FROM media_storagesource")
        (stored,) = cursor.fetchone()
    assert "very-secret-key-9876" not in stored


def test_sending_back_the_masked_value_keeps_the_secret(admin_api: Any) -> None:
    source = make_s3_source()
    response = admin_api.patch(
        f"/api/v1/storage-sources/{source.pk}",
        {"secret_key": "••••cdef", "region": "x"},
        format="json",
    )
    assert response.status_code == 200, response.content
    source.refresh_from_db()
    assert (source.secret_key, source.region) == ("s3-secret-key-abcdef", "x")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"name": "a", "kind": "local"}, "validation.required", "path"),
        ({"name": "a", "kind": "local", "path": "relative/dir"}, "storage.invalid_config", "path"),
        (
            {"name": "a", "kind": "smb", "host": "nas", "share": "m", "username": "u"},
            "validation.required",
            "password",
        ),
        (
            {"name": "a", "kind": "nfs", "host": "bad host!", "export": "/srv"},
            "storage.invalid_config",
            "host",
        ),
        ({**S3, "endpoint_url": "ftp://x"}, "storage.invalid_config", "endpoint_url"),
        ({"name": "a", "kind": "ftp"}, "validation.invalid_choice", "kind"),
        (
            {"name": "a", "kind": "local", "path": "/x", "extensions": ["mp4"]},
            "validation.invalid",
            "extensions.0",
        ),
    ],
)
def test_bad_config_is_a_400_naming_the_field(
    admin_api: Any, body: Any, code: str, field: str
) -> None:
    response = admin_api.post("/api/v1/storage-sources", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["params"]["field"] == field
    assert not StorageSource.objects.exists()


def test_the_kind_cannot_change(admin_api: Any) -> None:
    source = make_source()
    response = admin_api.patch(
        f"/api/v1/storage-sources/{source.pk}", {"kind": "nfs"}, format="json"
    )
    assert response.json()["error"]["code"] == "storage_source.kind_fixed"


def test_moving_the_source_forgets_the_scan_index(admin_api: Any, tmp_path: Path) -> None:
    source = make_source(scan_index={"files": {"a.mp4": [1, 2]}})
    admin_api.patch(f"/api/v1/storage-sources/{source.pk}", {"path": str(tmp_path)}, format="json")
    source.refresh_from_db()
    assert source.scan_index == {}


def test_operators_read_but_do_not_configure(operator_api: Any, viewer_api: Any) -> None:
    source = make_source()
    assert operator_api.get(f"/api/v1/storage-sources/{source.pk}").status_code == 200
    assert operator_api.post("/api/v1/storage-sources", S3, format="json").status_code == 403
    assert operator_api.delete(f"/api/v1/storage-sources/{source.pk}").status_code == 403
    # Viewers see the library (GET /media), not the storage configuration behind it.
    assert viewer_api.get("/api/v1/storage-sources").status_code == 403


def test_deleting_a_source_deletes_its_items(admin_api: Any) -> None:
    item = make_item()
    response = admin_api.delete(f"/api/v1/storage-sources/{item.source_id}")
    assert response.status_code == 204
    assert not MediaItem.objects.exists()


def test_a_source_cannot_be_deleted_while_it_scans(admin_api: Any) -> None:
    source = make_source()
    admin_api.post(f"/api/v1/storage-sources/{source.pk}/scan")
    response = admin_api.delete(f"/api/v1/storage-sources/{source.pk}")
    assert response.status_code == 409 and StorageSource.objects.filter(pk=source.pk).exists()


def test_operators_see_the_access_key_masked(admin_api: Any, operator_api: Any) -> None:
    created = admin_api.post("/api/v1/storage-sources", S3, format="json")
    assert created.json()["access_key"] == "••••MPLE"
    listed = operator_api.get("/api/v1/storage-sources")
    assert listed.status_code == 200
    assert "AKIAEXAMPLE" not in listed.content.decode()
    assert listed.json()["items"][0]["access_key"] == "••••MPLE"
    audit = AuditEntry.objects.get(action="storage_source.create")
    assert "AKIAEXAMPLE" not in str(audit.changes)


def test_sending_back_the_masked_access_key_keeps_it(admin_api: Any) -> None:
    source = make_s3_source()
    read = admin_api.get(f"/api/v1/storage-sources/{source.pk}").json()
    response = admin_api.patch(
        f"/api/v1/storage-sources/{source.pk}",
        {"access_key": read["access_key"], "secret_key": read["secret_key"], "region": "y"},
        format="json",
    )
    assert response.status_code == 200, response.content
    source.refresh_from_db()
    assert (source.access_key, source.secret_key) == ("AKIAEXAMPLE", "s3-secret-key-abcdef")


def test_an_unknown_kind_names_the_kinds_there_are(admin_api: Any) -> None:
    response = admin_api.post(
        "/api/v1/storage-sources", {"name": "a", "kind": "ftp"}, format="json"
    )
    assert response.json()["error"]["params"]["allowed"] == ["local", "smb", "nfs", "s3"]


@pytest.mark.parametrize(
    ("make_path", "code"),
    [
        (lambda tmp: tmp / "not-there", "storage.not_found"),
        (lambda tmp: _a_file(tmp / "a-file.mp4"), "storage.not_listable"),
        (lambda tmp: tmp / ("x" * 300), "storage.not_listable"),  # a name too long
    ],
)
def test_a_local_folder_that_cannot_be_listed_is_refused_when_saved(
    admin_api: Any, tmp_path: Path, make_path: Any, code: str
) -> None:
    body = {"name": "a", "kind": "local", "path": str(make_path(tmp_path))}
    response = admin_api.post("/api/v1/storage-sources", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["params"]["field"] == "path"
    assert not StorageSource.objects.exists()


def test_moving_a_local_source_to_a_missing_folder_is_refused(
    admin_api: Any, tmp_path: Path
) -> None:
    source = make_source(path=str(tmp_path))
    response = admin_api.patch(
        f"/api/v1/storage-sources/{source.pk}", {"path": str(tmp_path / "gone")}, format="json"
    )
    assert response.json()["error"]["code"] == "storage.not_found"
    source.refresh_from_db()
    assert source.path == str(tmp_path)


def test_a_local_folder_that_exists_is_saved(admin_api: Any, tmp_path: Path) -> None:
    body = {"name": "a", "kind": "local", "path": str(tmp_path)}
    assert admin_api.post("/api/v1/storage-sources", body, format="json").status_code == 201


def _a_file(path: Path) -> Path:
    path.write_bytes(b"not a folder")
    return path
