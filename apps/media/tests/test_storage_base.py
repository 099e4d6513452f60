"""Configs, check sequencing and secret hygiene shared by every backend."""

from __future__ import annotations

import socket

import pytest

from apps.media.storage.base import (
    ConfigError,
    MediaLocation,
    NFSConfig,
    S3Config,
    SMBConfig,
    StorageError,
    check_tcp,
    normalize_relpath,
    run_checks,
)


def s3_config(**overrides: object) -> S3Config:
    values: dict[str, object] = {
        "endpoint_url": "http://127.0.0.1:9000",
        "region": "us-east-1",
        "bucket": "media",
        "access_key": "AKIAEXAMPLE",
        "secret_key": "very-secret-value",
    }
    values.update(overrides)
    return S3Config(**values)  # type: ignore[arg-type]


def test_config_reprs_hide_secrets() -> None:
    smb = SMBConfig(host="nas", share="media", username="bob", password="hunter2-pw")
    s3 = s3_config()
    for text in (repr(smb), str(smb), repr(s3), str(s3)):
        assert "hunter2-pw" not in text
        assert "very-secret-value" not in text
    assert "bob" in repr(smb)


def test_presigned_url_is_masked_in_repr() -> None:
    location = MediaLocation("http://h/b/k.mp4?X-Amz-Signature=abc123", "http,tcp")
    assert "abc123" not in repr(location)
    assert "http://h/b/k.mp4" in str(location)
    assert location.url_or_path.endswith("abc123")


@pytest.mark.parametrize(
    ("config", "field_name"),
    [
        (s3_config(endpoint_url="ftp://x"), "endpoint_url"),
        (s3_config(endpoint_url="http://user:pw@x"), "endpoint_url"),
        (s3_config(bucket="Bad_Bucket"), "bucket"),
        (s3_config(prefix="../up"), "prefix"),
        (SMBConfig(host="nas/evil", share="m", username="u", password="p"), "host"),
        (SMBConfig(host="nas", share="a/b", username="u", password="p"), "share"),
        (SMBConfig(host="nas", share="m", username="u", password="p", port=0), "port"),
        (NFSConfig(host="nas", export="relative"), "export"),
        (NFSConfig(host="nas", export="/srv", options="ro;rm -rf /"), "options"),
    ],
)
def test_invalid_configs_are_rejected(
    config: S3Config | SMBConfig | NFSConfig, field_name: str
) -> None:
    with pytest.raises(ConfigError) as info:
        config.validate()
    assert info.value.code == "storage.invalid_config"
    assert info.value.field_name == field_name


@pytest.mark.parametrize(
    ("raw", "expected"), [("a//b/./c", "a/b/c"), ("", ""), ("a\\b", "a/b"), ("./x/", "x")]
)
def test_normalize_relpath(raw: str, expected: str) -> None:
    assert normalize_relpath(raw) == expected


@pytest.mark.parametrize("raw", ["../etc", "/abs", "a/../../b"])
def test_normalize_relpath_refuses_escapes(raw: str) -> None:
    with pytest.raises(ConfigError):
        normalize_relpath(raw)


def test_checks_after_a_failure_are_skipped() -> None:
    def fail() -> str:
        raise StorageError("storage.auth_failed", "bad password")

    results = run_checks(
        [
            ("reachable", lambda: "up"),
            ("credentials", fail),
            ("listable", lambda: "never run"),
            ("readable", lambda: "never run"),
        ]
    )
    assert [(r.name, r.ok, r.code, r.skipped) for r in results] == [
        ("reachable", True, None, False),
        ("credentials", False, "storage.auth_failed", False),
        ("listable", False, None, True),
        ("readable", False, None, True),
    ]


def test_check_tcp_on_a_closed_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(StorageError) as info:
            check_tcp("127.0.0.1", port, 2.0)
    assert info.value.code == "storage.unreachable"


def test_check_tcp_unknown_host_is_dns_failed() -> None:
    # .invalid is reserved (RFC 2606) and resolves nowhere, without any network.
    with pytest.raises(StorageError) as info:
        check_tcp("media.invalid", 445, 2.0)
    assert info.value.code == "storage.dns_failed"
