"""POST /storage-sources/{id}/test against real servers: local folder, smbd, moto S3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.media.tests.factories import make_s3_source, make_smb_source, make_source

from .storage_servers import (  # noqa: F401
    S3Server,
    SMBServer,
    closed_port,
    media_dir,
    s3_server,
    smb_server,
)

pytestmark = pytest.mark.django_db


def _test(client: Any, source: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/storage-sources/{source.pk}/test")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_local_folder_passes_every_check(admin_api: Any, media_dir: Path) -> None:  # noqa: F811
    body = _test(admin_api, make_source(path=str(media_dir)))
    assert body["ok"] is True
    assert [c["name"] for c in body["checks"]] == [
        "reachable",
        "credentials",
        "listable",
        "readable",
    ]
    assert all(c["ok"] and c["code"] is None for c in body["checks"])


def test_a_missing_folder_fails_with_a_code_and_an_explanation(
    admin_api: Any, tmp_path: Path
) -> None:
    body = _test(admin_api, make_source(path=str(tmp_path / "nope")))
    first, *rest = body["checks"]
    assert (body["ok"], first["ok"], first["code"]) == (False, False, "storage.not_found")
    assert "does not exist" in first["explanation"] and first["detail"]
    assert all(c["skipped"] for c in rest)


def test_smb_against_a_real_smbd(admin_api: Any, smb_server: SMBServer) -> None:  # noqa: F811
    source = make_smb_source(
        host=smb_server.host, port=smb_server.port, share=smb_server.share,
        username=smb_server.username, password=smb_server.password,
    )  # fmt: skip
    body = _test(admin_api, source)
    assert body["ok"] is True, body
    source.password = "Wrong-password-1"
    source.save()
    body = _test(admin_api, source)
    credentials = body["checks"][1]
    assert (credentials["ok"], credentials["code"]) == (False, "storage.auth_failed")
    assert "credentials" in credentials["explanation"]
    assert "Wrong-password-1" not in str(body)


def test_s3_against_moto(admin_api: Any, s3_server: S3Server) -> None:  # noqa: F811
    source = make_s3_source(
        endpoint_url=s3_server.endpoint, bucket=s3_server.bucket, prefix="library",
        access_key=s3_server.access_key, secret_key=s3_server.secret_key,
    )  # fmt: skip
    assert _test(admin_api, source)["ok"] is True
    source.secret_key = "definitely-wrong-secret"
    source.save()
    body = _test(admin_api, source)
    assert body["checks"][1]["code"] == "storage.auth_failed"
    assert "definitely-wrong-secret" not in str(body)


def test_an_unreachable_port_is_reported_quickly(admin_api: Any, closed_port: int) -> None:  # noqa: F811
    source = make_smb_source(port=closed_port)
    body = _test(admin_api, source)
    assert body["checks"][0]["code"] == "storage.unreachable"


def test_operators_may_not_run_tests(operator_api: Any) -> None:
    source = make_source()
    assert operator_api.post(f"/api/v1/storage-sources/{source.pk}/test").status_code == 403
