"""botocore's debug lines carry the S3 key id of every signed request: the log never shows it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from apps.media.models import StorageSource
from apps.media.storage.base import S3Config
from apps.media.storage.s3 import S3Backend

if TYPE_CHECKING:
    from .storage_servers import S3Server

pytest_plugins = ["apps.media.tests.storage_servers"]

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_botocore_debug_lines_never_show_the_s3_key_id(
    s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    StorageSource.objects.create(
        name="s3", kind="s3", endpoint_url=s3_server.endpoint, region=s3_server.region,
        bucket=s3_server.bucket, access_key=s3_server.access_key,
        secret_key=s3_server.secret_key, prefix="library",
    )  # fmt: skip
    config = StorageSource.objects.get(name="s3").config()  # as a worker loads it
    assert isinstance(config, S3Config)
    with caplog.at_level(logging.DEBUG, logger="botocore"):
        results = S3Backend(config, timeout=3).test()
    assert all(result.ok for result in results)
    assert "Credential=" in caplog.text  # botocore did write its signing lines
    assert s3_server.access_key not in caplog.text
    assert s3_server.secret_key not in caplog.text
