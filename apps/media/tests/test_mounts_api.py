"""POST /mounts/{id}/mount, /unmount, GET /mounts/{id}/status on a machine that cannot mount."""

from __future__ import annotations

import time
from typing import Any

import pytest

from apps.media.models import StorageSource
from apps.media.tests.factories import make_s3_source, make_smb_source, make_source
from apps.media.tests.helpers import scan_via_api

pytestmark = pytest.mark.django_db

CANNOT_MOUNT = {"mount.fs_unsupported", "mount.helper_missing", "mount.not_permitted"}


def test_mounting_here_answers_a_clear_error_quickly(admin_api: Any) -> None:
    # This machine's kernel has no cifs module: a clear 422, never a hang.
    source = make_smb_source()
    started = time.monotonic()
    response = admin_api.post(f"/api/v1/mounts/{source.pk}/mount")
    assert time.monotonic() - started < 10
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] in CANNOT_MOUNT
    assert error["params"]["explanation"] and "smb-password-123" not in str(error)
    assert StorageSource.objects.get(pk=source.pk).mount_wanted is False  # nothing half-done


def test_status_of_an_unmounted_share(operator_api: Any) -> None:
    source = make_smb_source()
    body = operator_api.get(f"/api/v1/mounts/{source.pk}/status").json()
    assert (body["mountable"], body["mounted"], body["fstype"]) == (True, False, None)
    assert body["mount_point"].endswith(f"/mounts/{source.pk}")


def test_unmounting_what_is_not_mounted_is_a_no_op(admin_api: Any) -> None:
    source = make_smb_source()
    response = admin_api.post(f"/api/v1/mounts/{source.pk}/unmount")
    assert response.status_code == 200 and response.json()["mounted"] is False


def test_kinds_read_without_a_mount_are_not_mountable(admin_api: Any) -> None:
    for source in (make_s3_source(), make_source()):
        response = admin_api.post(f"/api/v1/mounts/{source.pk}/mount")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "mount.not_mountable"
        status = admin_api.get(f"/api/v1/mounts/{source.pk}/status").json()
        assert (status["mountable"], status["mounted"]) == (False, False)


def test_an_unknown_source_is_404(admin_api: Any) -> None:
    assert admin_api.post("/api/v1/mounts/999/mount").status_code == 404


def test_operators_may_read_status_but_not_mount(operator_api: Any) -> None:
    source = make_smb_source()
    assert operator_api.get(f"/api/v1/mounts/{source.pk}/status").status_code == 200
    assert operator_api.post(f"/api/v1/mounts/{source.pk}/mount").status_code == 403


def test_scanning_an_unmounted_share_fails_with_mount_not_mounted(operator_api: Any) -> None:
    scan = scan_via_api(operator_api, make_smb_source())
    assert (scan.state, scan.error_code) == ("failed", "mount.not_mounted")
