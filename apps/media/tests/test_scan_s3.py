"""An S3 source against moto's S3 server on loopback: listed, probed over presigned URLs."""

from __future__ import annotations

from typing import Any

import pytest

from apps.media.models import MediaItem
from apps.media.tests.factories import make_s3_source
from apps.media.tests.helpers import probed_at, scan_via_api

from .storage_servers import S3Server, media_dir, s3_server  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(s3_server: S3Server) -> Any:  # noqa: F811
    return make_s3_source(
        endpoint_url=s3_server.endpoint, bucket=s3_server.bucket, prefix="library",
        access_key=s3_server.access_key, secret_key=s3_server.secret_key,
    )  # fmt: skip


def test_an_s3_scan_lists_and_probes_through_presigned_urls(
    operator_api: Any,
    source: Any,
    s3_server: S3Server,  # noqa: F811
) -> None:
    # moto 5.2 answers 500 to presigned GETs while it enforces signatures
    # (storage_servers.S3Server.set_auth), so reads run with its auth off.
    with s3_server.auth_disabled():
        scan = scan_via_api(operator_api, source)
    assert scan.state == "done", scan.error_detail
    items = {i.relpath: i for i in MediaItem.objects.filter(source=source)}
    assert set(items) == {"clip1.mp4", "shows/clip2.mp4"}  # notes.txt is not media
    clip = items["shows/clip2.mp4"]
    assert (clip.video_codec, clip.audio_codec, clip.width) == ("h264", "aac", 160)
    assert clip.duration == pytest.approx(2.0, abs=0.2)
    assert clip.probe_error_code == ""


def test_an_s3_rescan_probes_nothing(
    operator_api: Any,
    source: Any,
    s3_server: S3Server,  # noqa: F811
) -> None:
    with s3_server.auth_disabled():
        scan_via_api(operator_api, source)
        before = probed_at(source)
        second = scan_via_api(operator_api, source)
    assert (second.probed, second.unchanged) == (0, 2)
    assert probed_at(source) == before


def test_wrong_s3_credentials_fail_the_scan_with_a_code(operator_api: Any, source: Any) -> None:
    source.secret_key = "not-the-secret-key"
    source.save()
    scan = scan_via_api(operator_api, source)
    assert (scan.state, scan.error_code) == ("failed", "storage.auth_failed")
    assert "not-the-secret-key" not in scan.error_detail
