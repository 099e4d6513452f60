"""A media item in an S3 bucket (moto in server mode) runs from a presigned URL, kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.media.tests.factories import make_item, make_s3_source
from apps.media.tests.storage_servers import S3Server, media_dir, s3_server  # noqa: F401
from apps.streams.models import ExitReason, JobState, StreamJob
from apps.streams.preview import preview
from apps.streams.services import stream_job_start
from apps.streams.tests.factories import job_with_outputs
from apps.streams.tests.helpers import run_row, start_supervised
from workers.ffmpeg.probe import probe

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_s3_item_is_streamed_from_a_presigned_url(
    s3_server: S3Server,  # noqa: F811
    tmp_path: Path,
) -> None:
    source = make_s3_source(
        endpoint_url=s3_server.endpoint,
        region=s3_server.region,
        bucket=s3_server.bucket,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        prefix="library",
    )
    item = make_item(source=source, relpath="shows/clip2.mp4", duration=2.0)
    out = tmp_path / "out.mkv"
    job = job_with_outputs(
        {"kind": "file", "url": str(out), "stream_key": ""},
        input_kind="media_item",
        input_media_item=item,
        realtime=False,
    )
    with s3_server.auth_disabled():  # moto cannot check presigned requests with auth on
        command = preview(job)["command"]
        stream_job_start(actor=None, job=job)
        thread = start_supervised(job)
        thread.join(30)

    assert thread.result == ExitReason.COMPLETED
    assert StreamJob.objects.get(pk=job.pk).state == JobState.STOPPED
    info = probe(out, timeout=30)
    assert info.has_video and info.duration is not None and 1.5 <= info.duration <= 3
    assert f"{s3_server.endpoint}/media/library/shows/clip2.mp4?" in command
    assert "X-Amz-Signature=••••" in command
    tail = str(run_row(job).log_tail)
    assert s3_server.secret_key not in tail and "X-Amz-Signature=" not in tail.replace(
        "X-Amz-Signature=••••", ""
    )
