"""Inputs and outputs may not reach link-local or cloud metadata addresses (SSRF), unless
CASTCORE_ALLOW_LINK_LOCAL_TARGETS says so; private ranges and loopback are allowed unless
CASTCORE_ALLOW_PRIVATE_TARGETS is off."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.streams.models import StreamJob
from apps.streams.tests.factories import job_with_outputs, new_profile
from castcore import addresses as castcore_addresses

pytestmark = pytest.mark.django_db

RTMP_OK = {"kind": "rtmp", "url": "rtmp://127.0.0.1/live", "stream_key": "k-1234567"}
# A public address (TEST-NET-3): allowed whatever the private setting says.
RTMP_PUBLIC = {"kind": "rtmp", "url": "rtmp://203.0.113.10/live", "stream_key": "k-1234567"}


def create(api: APIClient, outputs: list[dict[str, Any]] | None = None, **fields: Any) -> Any:
    body = {"name": "ssrf", "input_kind": "test_pattern", "profile": new_profile().pk,
            "outputs": outputs or [RTMP_OK], **fields}  # fmt: skip
    return api.post("/api/v1/stream-jobs", body, format="json")


def refused(response: Any, field: str) -> bool:
    if response.status_code != 400:
        return False
    error = response.json()["error"]
    return (error["code"], error["params"]["field"]) == ("stream_job.address_not_allowed", field)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[fe80::1]/x",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://2852039166/latest/meta-data/",  # 169.254.169.254 as one number
        "http://[::ffff:169.254.169.254]/latest/",
        "rtmp://169.254.169.254/live/x",
    ],
)
def test_an_input_url_at_a_metadata_address_is_refused(operator_api: APIClient, url: str) -> None:
    assert refused(create(operator_api, input_kind="url", input_url=url), "input_url")
    assert not StreamJob.objects.exists()


@pytest.mark.parametrize(
    "output",
    [
        {"kind": "udp", "url": "udp://169.254.169.254:1234"},
        {"kind": "srt", "url": "srt://169.254.1.1:9000"},
        {"kind": "rtmp", "url": "rtmp://metadata.google.internal/live", "stream_key": "k"},
    ],
)
def test_an_output_at_a_link_local_address_is_refused(
    operator_api: APIClient, output: dict[str, Any]
) -> None:
    assert refused(create(operator_api, [RTMP_OK, output]), "outputs.1.url")


def test_a_name_resolving_to_link_local_is_refused(
    operator_api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def fake(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "ingest.evil.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    output = {"kind": "rtmp", "url": "rtmp://ingest.evil.example/live", "stream_key": "k"}
    assert refused(create(operator_api, [output]), "outputs.0.url")


@pytest.mark.parametrize(
    "url", ["rtmp://127.0.0.1/live/x", "http://10.0.0.5/a.ts", "srt://192.168.1.9:9000"]
)
def test_loopback_and_private_addresses_stay_allowed(operator_api: APIClient, url: str) -> None:
    assert create(operator_api, input_kind="url", input_url=url).status_code == 201


def test_the_setting_allows_link_local_targets(
    operator_api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(castcore_addresses, "ALLOW_LINK_LOCAL_TARGETS", True)
    output = {"kind": "udp", "url": "udp://169.254.169.254:1234"}
    response = create(operator_api, [output], input_kind="url", input_url="http://169.254.1.2/a")
    assert response.status_code == 201, response.content


def test_a_job_saved_with_a_refused_output_cannot_start(operator_api: APIClient) -> None:
    job = job_with_outputs({"kind": "udp", "url": "udp://169.254.169.254:1234"})  # a direct row
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert refused(response, "outputs.0.url"), response.content


# Private ranges: allowed by default (a self-hosted restreamer's NAS, ingest, MinIO live
# there), refused with CASTCORE_ALLOW_PRIVATE_TARGETS=false.
PRIVATE_INPUTS = ["http://10.0.0.5/a.ts", "rtmp://172.16.4.2/live/x", "srt://[fd12:3456::9]:9000"]
PRIVATE_OUTPUTS = [
    {"kind": "rtmp", "url": "rtmp://192.168.1.20/live", "stream_key": "k-1234567"},
    {"kind": "udp", "url": "udp://10.1.2.3:1234"},
    {"kind": "srt", "url": "srt://[fc00::7]:9000"},
]


@pytest.fixture
def private_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(castcore_addresses, "ALLOW_PRIVATE_TARGETS", False)


@pytest.mark.parametrize("url", PRIVATE_INPUTS)
def test_private_inputs_are_allowed_by_default(operator_api: APIClient, url: str) -> None:
    assert create(operator_api, input_kind="url", input_url=url).status_code == 201


@pytest.mark.parametrize("output", PRIVATE_OUTPUTS)
def test_private_outputs_are_allowed_by_default(
    operator_api: APIClient, output: dict[str, Any]
) -> None:
    assert create(operator_api, [output]).status_code == 201


@pytest.mark.parametrize("url", PRIVATE_INPUTS)
def test_the_setting_refuses_private_inputs(
    operator_api: APIClient, private_refused: None, url: str
) -> None:
    response = create(operator_api, input_kind="url", input_url=url)
    assert refused(response, "input_url"), response.content
    assert response.json()["error"]["params"]["reason"] == "private"
    assert not StreamJob.objects.exists()


@pytest.mark.parametrize("output", PRIVATE_OUTPUTS)
def test_the_setting_refuses_private_outputs(
    operator_api: APIClient, private_refused: None, output: dict[str, Any]
) -> None:
    response = create(operator_api, [RTMP_PUBLIC, output])
    assert refused(response, "outputs.1.url"), response.content
    assert response.json()["error"]["params"]["reason"] == "private"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379/a.ts", "http://[::1]:5432/a.ts", "http://0.0.0.0:8000/a.ts"]
)
def test_the_setting_refuses_this_hosts_own_services_too(
    operator_api: APIClient, private_refused: None, url: str
) -> None:
    response = create(operator_api, input_kind="url", input_url=url)
    assert refused(response, "input_url"), response.content
    assert response.json()["error"]["params"]["reason"] == "local"


def test_loopback_is_allowed_by_default(operator_api: APIClient) -> None:
    response = create(operator_api, input_kind="url", input_url="http://127.0.0.1:8080/a.ts")
    assert response.status_code == 201, response.content


def test_a_job_with_a_private_output_cannot_start_once_the_setting_refuses_it(
    operator_api: APIClient, private_refused: None
) -> None:
    job = job_with_outputs({"kind": "udp", "url": "udp://192.168.7.7:1234"})  # a direct row
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert refused(response, "outputs.0.url"), response.content
    assert not job.runs.exists()


def test_the_egress_proxy_follows_the_private_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import ipaddress

    from workers.ffmpeg import addresses
    from workers.ffmpeg.egress import EgressProxy

    # 127.0.0.2 stands for a private address here; nothing needs to listen there.
    net = ipaddress.ip_network("127.0.0.2/32")
    monkeypatch.setattr(addresses, "PRIVATE_NETWORKS", (*addresses.PRIVATE_NETWORKS, net))
    proxy = EgressProxy()
    try:

        def answer() -> bytes:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as conn:
                conn.sendall(b"CONNECT 127.0.0.2:9 HTTP/1.1\r\n\r\n")
                return conn.recv(100)

        assert answer().startswith(b"HTTP/1.1 502 ")  # allowed, and nothing listens there
        monkeypatch.setattr(castcore_addresses, "ALLOW_PRIVATE_TARGETS", False)
        assert answer().startswith(b"HTTP/1.1 403 ")
    finally:
        proxy.close()
