"""A stream job output that names a platform account sends where the platform says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.integrations import conf
from apps.integrations.platforms.models import AccountKind, PlatformAccount
from apps.integrations.tests.platform_server import (
    INGEST,
    STREAM_KEY,
    Platform,
    provider_settings,
    running_platform,
)
from apps.streams.models import StreamJob, StreamOutput
from apps.streams.preview import preview
from apps.streams.specs import job_spec_for
from apps.streams.tests.factories import new_profile
from castcore.api.errors import ApiError
from workers.ffmpeg.spec import RtmpOutput

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    with running_platform() as stand_in:
        monkeypatch.setitem(conf.PLATFORM_OAUTH, "youtube", provider_settings(stand_in.url))
        yield stand_in


def _linked(platform: Platform) -> PlatformAccount:
    token = platform.issue()
    return PlatformAccount.objects.create(
        name="YT",
        platform="youtube",
        kind=AccountKind.OAUTH,
        access_token=token["access_token"],
        refresh_token=token["refresh_token"],
        external_id="UC123",
    )


def _job(api: APIClient, account: PlatformAccount) -> StreamJob:
    body = {
        "name": "show",
        "input_kind": "test_pattern",
        "profile": new_profile().pk,
        "outputs": [{"kind": "rtmp", "platform_account": account.pk}],
    }
    response = api.post("/api/v1/stream-jobs", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["outputs"][0]["platform_account"] == account.pk
    return StreamJob.objects.get(pk=response.json()["id"])


def test_the_fetched_ingest_goes_into_the_spec_and_is_never_stored(
    operator_api: APIClient, platform: Platform
) -> None:
    job = _job(operator_api, _linked(platform))
    # Creating the job asked the platform nothing; starting it (the spec) does.
    assert ("GET", "/youtube/v3/liveStreams") not in platform.requests
    output = job_spec_for(job).outputs[0]
    assert isinstance(output, RtmpOutput)
    assert (output.url, output.stream_key) == (INGEST, STREAM_KEY)
    row = StreamOutput.objects.get(job=job)
    assert STREAM_KEY not in (row.url, row.stream_key)


def test_the_preview_shows_the_fetched_url_with_the_key_masked(
    operator_api: APIClient, platform: Platform
) -> None:
    job = _job(operator_api, _linked(platform))
    shown: dict[str, Any] = preview(job)
    assert INGEST.removeprefix("rtmp://") in shown["command"]
    assert STREAM_KEY not in shown["command"] and "••••" in shown["command"]


def test_a_revoked_account_makes_the_spec_fail_with_a_code(
    operator_api: APIClient, platform: Platform
) -> None:
    account = _linked(platform)
    job = _job(operator_api, account)
    PlatformAccount.objects.filter(pk=account.pk).update(status="revoked")
    with pytest.raises(ApiError) as caught:
        preview(job)
    assert caught.value.code == "spec.platform_account_unusable"


def test_a_stream_key_account_gives_its_url_and_key(
    operator_api: APIClient, admin_api: APIClient
) -> None:
    created = admin_api.post(
        "/api/v1/platforms",
        {"name": "Own", "platform": "custom_rtmp", "ingest_url": "rtmp://127.0.0.1:1935/live",
         "stream_key": "own-key-123456789"},
        format="json",
    ).json()  # fmt: skip
    job = _job(operator_api, PlatformAccount.objects.get(pk=created["id"]))
    output = job_spec_for(job).outputs[0]
    assert isinstance(output, RtmpOutput)
    assert (output.url, output.stream_key) == ("rtmp://127.0.0.1:1935/live", "own-key-123456789")


def test_an_account_in_use_cannot_be_deleted(
    operator_api: APIClient, admin_api: APIClient, platform: Platform
) -> None:
    account = _linked(platform)
    _job(operator_api, account)
    response = admin_api.delete(f"/api/v1/platforms/{account.pk}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "platform.account_in_use"
    assert PlatformAccount.objects.filter(pk=account.pk).exists()


def test_a_file_output_cannot_name_an_account(operator_api: APIClient, platform: Platform) -> None:
    body = {
        "name": "show",
        "input_kind": "test_pattern",
        "profile": new_profile().pk,
        "outputs": [{"kind": "hls", "platform_account": _linked(platform).pk}],
    }
    response = operator_api.post("/api/v1/stream-jobs", body, format="json")
    assert response.status_code == 400
    assert "platform_account" in str(response.json()["error"]["params"])
    assert not StreamJob.objects.exists()
