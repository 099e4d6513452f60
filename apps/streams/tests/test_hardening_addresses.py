"""Inputs and outputs may not reach link-local or cloud metadata addresses (SSRF), unless
CASTCORE_ALLOW_LINK_LOCAL_TARGETS says so; loopback and private ranges stay allowed."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.media import conf as media_conf
from apps.streams.models import StreamJob
from apps.streams.tests.factories import job_with_outputs, new_profile

pytestmark = pytest.mark.django_db

RTMP_OK = {"kind": "rtmp", "url": "rtmp://127.0.0.1/live", "stream_key": "k-1234567"}


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
    monkeypatch.setattr(media_conf, "ALLOW_LINK_LOCAL_TARGETS", True)
    output = {"kind": "udp", "url": "udp://169.254.169.254:1234"}
    response = create(operator_api, [output], input_kind="url", input_url="http://169.254.1.2/a")
    assert response.status_code == 201, response.content


def test_a_job_saved_with_a_refused_output_cannot_start(operator_api: APIClient) -> None:
    job = job_with_outputs({"kind": "udp", "url": "udp://169.254.169.254:1234"})  # a direct row
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert refused(response, "outputs.0.url"), response.content
