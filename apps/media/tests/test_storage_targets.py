"""Where a storage source may point: no cloud metadata service, no mount option that
undoes the read-only, no-exec mount. Refused with a coded 400 before anything connects."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from apps.media.services import storage_source_test
from apps.media.storage import base
from apps.media.storage.base import ConfigError, NFSConfig, S3Config, StorageError, check_tcp
from apps.media.tests.factories import make_s3_source
from castcore import addresses as castcore_addresses
from workers.ffmpeg.addresses import AddressPolicy

pytestmark = pytest.mark.django_db

S3 = {
    "name": "bucket", "kind": "s3", "endpoint_url": "http://127.0.0.1:9000", "region": "eu-west-1",
    "bucket": "media", "access_key": "AKIAEXAMPLE", "secret_key": "very-secret-key-9876",
}  # fmt: skip
NFS = {"name": "nas", "kind": "nfs", "host": "127.0.0.1", "export": "/srv/media"}


def _resolving(monkeypatch: pytest.MonkeyPatch, name: str, address: str) -> None:
    """Make `name` resolve to `address`, as a hostile DNS record would."""
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == name:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(base.socket, "getaddrinfo", fake)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254",
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.1.2:9000",
        "http://2852039166",  # 169.254.169.254 written as one number
        "http://[fe80::1]:9000",
        "http://[fd00:ec2::254]",
        "http://[::ffff:169.254.169.254]",
        "http://metadata.google.internal",
        "http://METADATA.google.internal.",
    ],
)
def test_it_refuses_a_metadata_endpoint(admin_api: Any, endpoint: str) -> None:
    response = admin_api.post(
        "/api/v1/storage-sources", {**S3, "endpoint_url": endpoint}, format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["params"]["field"]) == (
        "storage.address_not_allowed",
        "endpoint_url",
    )


@pytest.mark.parametrize("kind", ["nfs", "smb"])
def test_it_refuses_a_host_name_that_resolves_to_link_local(
    admin_api: Any, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    _resolving(monkeypatch, "nas.evil.example", "169.254.169.254")
    body = {
        "nfs": {**NFS, "host": "nas.evil.example"},
        "smb": {"name": "s", "kind": "smb", "host": "nas.evil.example", "share": "m",
                "username": "u", "password": "p"},
    }[kind]  # fmt: skip
    response = admin_api.post("/api/v1/storage-sources", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["params"]["field"]) == ("storage.address_not_allowed", "host")
    assert error["params"]["address"] == "169.254.169.254"


def test_an_s3_host_name_that_resolves_to_link_local_is_refused(
    admin_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resolving(monkeypatch, "s3.evil.example", "fe80::1")
    response = admin_api.post(
        "/api/v1/storage-sources", {**S3, "endpoint_url": "https://s3.evil.example"}, format="json"
    )
    assert response.json()["error"]["code"] == "storage.address_not_allowed"


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "http://localhost:9000"])
def test_loopback_stays_allowed_for_minio_on_the_same_host(admin_api: Any, endpoint: str) -> None:
    response = admin_api.post(
        "/api/v1/storage-sources", {**S3, "endpoint_url": endpoint}, format="json"
    )
    assert response.status_code == 201, response.content


def test_the_setting_allows_link_local_targets(
    admin_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(castcore_addresses, "ALLOW_LINK_LOCAL_TARGETS", True)
    response = admin_api.post(
        "/api/v1/storage-sources", {**S3, "endpoint_url": "http://169.254.10.10"}, format="json"
    )
    assert response.status_code == 201, response.content


def test_testing_a_source_saved_before_the_rule_never_connects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = make_s3_source(endpoint_url="http://169.254.169.254")

    def no_connect(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("connected to the metadata service")

    monkeypatch.setattr(socket.socket, "connect", no_connect)
    (check,) = storage_source_test(source=source)
    assert (check.name, check.ok, check.code) == ("reachable", False, "storage.address_not_allowed")


def test_the_reachable_check_refuses_a_name_that_now_resolves_to_link_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Validated while it pointed elsewhere; DNS changed since (rebinding).
    _resolving(monkeypatch, "nas.evil.example", "169.254.169.254")
    with pytest.raises(StorageError) as caught:
        check_tcp("nas.evil.example", 2049, 1.0)
    assert caught.value.code == "storage.address_not_allowed"


def test_the_config_refuses_without_django(monkeypatch: pytest.MonkeyPatch) -> None:
    config = S3Config("http://169.254.169.254", "us-east-1", "media", "AKIA", "secret")
    with pytest.raises(ConfigError) as caught:
        config.validate()
    assert caught.value.code == "storage.address_not_allowed"
    S3Config(
        "http://169.254.169.254",
        "us-east-1",
        "media",
        "AKIA",
        "secret",
        addresses=AddressPolicy(allow_link_local=True),
    ).validate()


# --- NFS mount options ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        ("rw,suid,dev,exec", "rw"),
        ("suid", "suid"),
        ("dev", "dev"),
        ("vers=4.1,exec", "exec"),
        ("defaults", "defaults"),
        ("remount", "remount"),
        ("user", "user"),
        ("context=system_u:object_r:nfs_t:s0", "context=system_u:object_r:nfs_t:s0"),
        ("nfsvers=9", "nfsvers=9"),
        ("sec=none", "sec=none"),
        ("soft,frobnicate", "frobnicate"),
    ],
)
def test_it_refuses_mount_options_that_are_not_known_harmless(
    admin_api: Any, options: str, refused: str
) -> None:
    response = admin_api.post(
        "/api/v1/storage-sources", {**NFS, "mount_options": options}, format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "storage.mount_option_not_allowed"
    assert (error["params"]["field"], error["params"]["option"]) == ("mount_options", refused)


def test_it_accepts_protocol_and_tuning_options(admin_api: Any) -> None:
    options = (
        "vers=4.1,nfsvers=4.2,proto=tcp,port=2049,timeo=600,retrans=3,soft,hard,nolock,"
        "noatime,rsize=1048576,wsize=1048576,sec=sys"
    )
    response = admin_api.post(
        "/api/v1/storage-sources", {**NFS, "mount_options": options}, format="json"
    )
    assert response.status_code == 201, response.content


def test_a_mount_never_runs_with_a_refused_option(tmp_path: Any) -> None:
    from apps.media.storage.mounting import mount_source

    config = NFSConfig(host="127.0.0.1", export="/srv/media", options="rw,exec")
    with pytest.raises(ConfigError) as caught:
        # /bin/false would "fail" the mount; the config must be refused before any tool runs.
        mount_source(base_dir=tmp_path, source_id=1, config=config, helper="/nonexistent")
    assert caught.value.code == "storage.mount_option_not_allowed"


# --- private ranges ----------------------------------------------------------------------

PRIVATE_ENDPOINTS = ["http://10.20.30.40:9000", "https://172.16.0.9", "http://[fd12::5]:9000"]


@pytest.mark.parametrize("endpoint", PRIVATE_ENDPOINTS)
def test_a_private_endpoint_is_allowed_by_default(admin_api: Any, endpoint: str) -> None:
    response = admin_api.post(
        "/api/v1/storage-sources", {**S3, "endpoint_url": endpoint}, format="json"
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("endpoint", PRIVATE_ENDPOINTS)
def test_the_setting_refuses_a_private_endpoint(
    admin_api: Any, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.setattr(castcore_addresses, "ALLOW_PRIVATE_TARGETS", False)
    response = admin_api.post(
        "/api/v1/storage-sources", {**S3, "endpoint_url": endpoint}, format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["params"]["reason"]) == ("storage.address_not_allowed", "private")


def test_the_setting_refuses_a_private_nas(admin_api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    body = {**NFS, "host": "192.168.1.10"}
    assert admin_api.post("/api/v1/storage-sources", body, format="json").status_code == 201
    monkeypatch.setattr(castcore_addresses, "ALLOW_PRIVATE_TARGETS", False)
    response = admin_api.post("/api/v1/storage-sources", {**body, "name": "nas2"}, format="json")
    assert response.json()["error"]["code"] == "storage.address_not_allowed"


def test_testing_a_private_source_never_connects_once_the_setting_refuses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = make_s3_source(endpoint_url="http://10.9.9.9:9000")
    monkeypatch.setattr(castcore_addresses, "ALLOW_PRIVATE_TARGETS", False)
    (check,) = storage_source_test(source=source)
    assert (check.name, check.ok, check.code) == ("reachable", False, "storage.address_not_allowed")
