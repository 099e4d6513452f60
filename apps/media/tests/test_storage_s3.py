"""S3Backend against moto running as a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from apps.media.storage.base import S3Config, StorageError
from apps.media.storage.s3 import S3Backend

if TYPE_CHECKING:
    from .storage_servers import S3Server

# Session-scoped fixtures that start the real servers (s3_server, smb_server, ...).
pytest_plugins = ["apps.media.tests.storage_servers"]

pytestmark = pytest.mark.slow


def backend(server: S3Server, timeout: float = 3.0, **overrides: object) -> S3Backend:
    values: dict[str, object] = {
        "endpoint_url": server.endpoint,
        "region": server.region,
        "bucket": server.bucket,
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        "prefix": "library",
    }
    values.update(overrides)
    return S3Backend(S3Config(**values), timeout=timeout)  # type: ignore[arg-type]


def outcome(results: list) -> list[tuple[str, bool, str | None]]:
    return [(r.name, r.ok, r.code) for r in results]


def test_all_checks_pass_with_good_credentials(s3_server: S3Server) -> None:
    assert outcome(backend(s3_server).test()) == [
        ("reachable", True, None),
        ("credentials", True, None),
        ("listable", True, None),
        ("readable", True, None),
    ]


def test_wrong_secret_is_auth_failed_and_never_shown(s3_server: S3Server) -> None:
    results = backend(s3_server, secret_key="wrong-secret-123").test()
    assert outcome(results)[:2] == [
        ("reachable", True, None),
        ("credentials", False, "storage.auth_failed"),
    ]
    assert [r.skipped for r in results[2:]] == [True, True]
    assert "wrong-secret-123" not in repr(results)


def test_unknown_access_key_is_auth_failed(s3_server: S3Server) -> None:
    results = backend(s3_server, access_key="AKIAUNKNOWN0000000").test()
    assert results[1].code == "storage.auth_failed"


def test_missing_bucket_is_not_found(s3_server: S3Server) -> None:
    results = backend(s3_server, bucket="no-such-bucket").test()
    assert outcome(results)[1:3] == [
        ("credentials", True, None),
        ("listable", False, "storage.not_found"),
    ]


def test_empty_bucket_passes_with_nothing_to_read(s3_server: S3Server) -> None:
    results = backend(s3_server, bucket="empty", prefix="").test()
    assert all(r.ok for r in results)
    assert "nothing to read" in results[3].detail


def test_closed_port_is_unreachable_quickly(s3_server: S3Server, closed_port: int) -> None:
    started = time.monotonic()
    results = backend(s3_server, endpoint_url=f"http://127.0.0.1:{closed_port}").test()
    assert outcome(results)[0] == ("reachable", False, "storage.unreachable")
    assert time.monotonic() - started < 3


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A socket that accepts connections (kernel backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_server_that_never_answers_times_out(s3_server: S3Server, silent_server: int) -> None:
    started = time.monotonic()
    results = backend(
        s3_server, timeout=1.0, endpoint_url=f"http://127.0.0.1:{silent_server}"
    ).test()
    assert outcome(results)[:2] == [
        ("reachable", True, None),
        ("credentials", False, "storage.timeout"),
    ]
    assert time.monotonic() - started < 4


def test_iter_files_lists_keys_under_the_prefix_with_sizes(s3_server: S3Server, media_dir) -> None:
    entries = list(backend(s3_server).iter_files())
    assert [(e.relpath, e.size) for e in entries] == [
        ("clip1.mp4", (media_dir / "clip1.mp4").stat().st_size),
        ("notes.txt", (media_dir / "notes.txt").stat().st_size),
        ("shows/clip2.mp4", (media_dir / "shows/clip2.mp4").stat().st_size),
    ]
    assert all(e.mtime_ns > 1_600_000_000 * 10**9 for e in entries)
    assert [e.relpath for e in backend(s3_server).iter_files("shows")] == ["shows/clip2.mp4"]


def test_iter_files_with_bad_credentials_raises_a_coded_error(s3_server: S3Server) -> None:
    with pytest.raises(StorageError) as info:
        list(backend(s3_server, secret_key="nope").iter_files())
    assert info.value.code == "storage.auth_failed"


def test_open_for_ffmpeg_missing_object_is_not_found(s3_server: S3Server) -> None:
    with pytest.raises(StorageError) as info:
        backend(s3_server).open_for_ffmpeg("missing.mp4")
    assert info.value.code == "storage.not_found"


def test_ffprobe_reads_the_presigned_url(s3_server: S3Server) -> None:
    location = backend(s3_server).open_for_ffmpeg("shows/clip2.mp4")
    assert "X-Amz-Signature=" in location.url_or_path
    assert "X-Amz-Expires=900" in location.url_or_path
    assert location.protocol_whitelist == "http,https,tls,tcp,crypto"
    # moto cannot check presigned signatures while auth is enforced (see S3Server.set_auth).
    with s3_server.auth_disabled():
        proc = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-protocol_whitelist",
                location.protocol_whitelist,
                "-show_format",
                "-show_streams",
                "-of",
                "json",
                location.url_or_path,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 0, proc.stderr
    probe = json.loads(proc.stdout)
    codecs = sorted(s["codec_name"] for s in probe["streams"])
    assert codecs == ["aac", "h264"]
    assert 1.9 < float(probe["format"]["duration"]) < 2.2


def test_ffprobe_refuses_the_url_without_the_http_whitelist(s3_server: S3Server) -> None:
    # The whitelist matters: ffmpeg's default for a top-level URL is permissive, but
    # "file" alone must not reach the network.
    location = backend(s3_server).open_for_ffmpeg("clip1.mp4")
    proc = subprocess.run(
        ["ffprobe", "-v", "error", "-protocol_whitelist", "file", location.url_or_path],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0
    assert "not on whitelist" in proc.stderr


def test_requests_are_refused_where_the_address_policy_now_refuses_the_endpoint(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ipaddress

    from castcore import addresses as castcore_addresses
    from workers.ffmpeg import addresses

    s3 = backend(s3_server)  # validated while its address was allowed
    assert list(s3.iter_files())
    # 127.0.0.1 (moto) stands for a private address, and the setting now refuses those:
    # boto3's requests go through the egress proxy, which checks each connection.
    loopback = ipaddress.ip_network("127.0.0.1/32")
    monkeypatch.setattr(addresses, "PRIVATE_NETWORKS", (*addresses.PRIVATE_NETWORKS, loopback))
    monkeypatch.setattr(castcore_addresses, "ALLOW_PRIVATE_TARGETS", False)
    with pytest.raises(StorageError) as caught:
        list(s3.iter_files())
    assert caught.value.code == "storage.address_not_allowed"
    with pytest.raises(StorageError) as caught:
        s3.open_for_ffmpeg("clip1.mp4")
    assert caught.value.code == "storage.address_not_allowed"
