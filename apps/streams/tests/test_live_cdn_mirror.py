"""Live HLS copied to S3-compatible storage (moto as a real server): segments as they are
written, playlists after their segments, deletions mirrored, public streams only."""

from __future__ import annotations

import logging
import time
from typing import Any

import boto3
import pytest

from apps.media.storage.base import S3Config
from apps.media.storage.s3 import S3Backend
from apps.media.tests.storage_servers import S3Server, media_dir, s3_server  # noqa: F401
from apps.streams.live.cdn import HlsMirror, _sync_logged, mirror_for
from apps.streams.live.models import LiveSession
from apps.streams.live.paths import hls_dir
from apps.streams.tests.live_helpers import (  # noqa: F401
    _live_folders,
    a_live_stream,
    end_session,
    start_hls_ffmpeg,
    stop_process,
    wait_for_playlist,
    write_static_hls,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
BUCKET = "live-cdn"


def _client(server: S3Server) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    )


@pytest.fixture
def bucket(s3_server: S3Server) -> S3Backend:  # noqa: F811
    client = _client(s3_server)
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    return S3Backend(
        S3Config(
            endpoint_url=s3_server.endpoint,
            region=s3_server.region,
            bucket=BUCKET,
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
            prefix="cdn",
        ),
        timeout=5.0,
    )


def _remote(server: S3Server) -> dict[str, Any]:
    client = _client(server)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {key: client.get_object(Bucket=BUCKET, Key=key) for key in keys}


def _listed(text: str) -> list[str]:
    return [line.split("?")[0] for line in text.splitlines() if line and line[0] != "#"]


def test_a_public_streams_hls_is_mirrored_as_it_is_written(
    s3_server: S3Server,  # noqa: F811
    bucket: S3Backend,
) -> None:
    stream = a_live_stream(visibility="public")
    session = LiveSession.objects.get(stream=stream)
    ffmpeg = start_hls_ffmpeg(stream)
    try:
        wait_for_playlist(stream)
        mirror = mirror_for(stream, bucket)
        assert mirror is not None
        base = f"cdn/live/{stream.pk}"
        deadline = time.monotonic() + 9
        while time.monotonic() < deadline:
            mirror.sync()
            remote = _remote(s3_server)
            # Whatever a player reads from the bucket, what it lists is there.
            variant = remote.get(f"{base}/v0/index.m3u8")
            if variant is not None:
                for name in _listed(variant["Body"].read().decode()):
                    assert f"{base}/v0/{name}" in remote
            time.sleep(0.5)
    finally:
        stop_process(ffmpeg)
    mirror.sync()
    remote = _remote(s3_server)
    folder = hls_dir(stream)

    master = remote[f"{base}/index.m3u8"]
    assert master["ContentType"] == "application/vnd.apple.mpegurl"
    assert master["CacheControl"] == "public, no-cache"
    assert _listed(master["Body"].read().decode()) == ["v0/index.m3u8"]
    variant_text = remote[f"{base}/v0/index.m3u8"]["Body"].read().decode()
    segment_lines = [ln for ln in variant_text.splitlines() if ln and ln[0] != "#"]
    assert segment_lines and all(ln.endswith(f"?s={session.pk}") for ln in segment_lines)
    segments = {key for key in remote if key.endswith(".ts")}
    # Deletions mirrored: the bucket holds exactly the segments still in the folder.
    assert segments == {f"{base}/v0/{p.name}" for p in (folder / "v0").glob("*.ts")}
    one = remote[sorted(segments)[-1]]
    assert one["ContentType"] == "video/mp2t"
    assert one["CacheControl"] == "public, max-age=31536000, immutable"
    assert (
        one["Body"].read() == (folder / "v0" / sorted(segments)[-1].rsplit("/", 1)[1]).read_bytes()
    )
    # More segments were written (and deleted) than the window holds now.
    assert int(sorted(segments)[0].rsplit("seg", 1)[1][:5]) > 0


def test_unlisted_private_and_offline_streams_are_not_mirrored(bucket: S3Backend) -> None:
    unlisted = a_live_stream(visibility="unlisted")
    private = a_live_stream(visibility="private")
    offline = a_live_stream(visibility="public", live=False)

    assert [mirror_for(s, bucket) for s in (unlisted, private, offline)] == [None, None, None]


def test_a_bucket_that_refuses_is_logged_without_its_secret_and_retried(
    s3_server: S3Server,  # noqa: F811
    bucket: S3Backend,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = a_live_stream(visibility="public")
    write_static_hls(stream)
    wrong = S3Backend(
        S3Config(
            endpoint_url=s3_server.endpoint,
            region=s3_server.region,
            bucket=BUCKET,
            access_key=s3_server.access_key,
            secret_key="wrong-secret-4242",
            prefix="cdn",
        ),
        timeout=5.0,
    )
    mirror = HlsMirror(folder=hls_dir(stream), bucket=wrong, remote=f"live/{stream.pk}")

    with caplog.at_level(logging.WARNING):
        _sync_logged(mirror)

    assert "storage.auth_failed" in caplog.text and "wrong-secret-4242" not in caplog.text
    assert not mirror.uploaded and not mirror.playlists
    mirror.bucket = bucket  # fixed: the next pass puts everything
    mirror.sync()
    assert len(_remote(s3_server)) == 4  # master, variant playlist, two segments
