"""Review of #18: the list hides unlisted streams, non-managers read no ingest or targets,
viewer counts in the API, the logo is an asset the caller may use, and delete clears HLS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory
from apps.media.models import Asset
from apps.streams.live import viewers
from apps.streams.live.api.serializers import MANAGER_FIELDS
from apps.streams.live.models import ViewerSample
from apps.streams.live.paths import hls_dir
from apps.streams.live.tests.factories import live_stream

pytestmark = pytest.mark.django_db

UDP = {"kind": "udp", "url": "udp://203.0.113.9:9000"}


@pytest.fixture(autouse=True)
def _no_viewers() -> Iterator[None]:
    viewers.store().clear()
    yield
    viewers.store().clear()


def _asset(owner: Any) -> Asset:
    return Asset.objects.create(
        kind="logo", name="logo", file="assets/logo.png", mime="image/png", width=64,
        height=64, sha256="0" * 64, size=100, uploaded_by=owner,
    )  # fmt: skip


def test_the_list_hides_others_unlisted_streams_but_their_link_still_opens(
    viewer_api: APIClient, operator_user: Any, operator_api: APIClient
) -> None:
    public, _ = live_stream(operator_user, outputs=[UDP])
    unlisted, _ = live_stream(operator_user, visibility="unlisted", outputs=[UDP])
    listed = [i["id"] for i in viewer_api.get("/api/v1/live-streams").json()["items"]]
    assert listed == [public.pk]
    assert viewer_api.get(f"/api/v1/live-streams/{unlisted.pk}").status_code == 200
    # Its owner lists it.
    owned = {i["id"] for i in operator_api.get("/api/v1/live-streams").json()["items"]}
    assert owned == {public.pk, unlisted.pk}


def test_who_cannot_manage_a_stream_reads_no_ingest_targets_job_or_key(
    viewer_api: APIClient, operator_user: Any, operator_api: APIClient
) -> None:
    stream, key = live_stream(operator_user, outputs=[UDP], srt_enabled=True)
    other_operator = APIClient()
    other_operator.force_authenticate(UserFactory.create(role=Role.OPERATOR))
    for client in (viewer_api, other_operator):
        detail = client.get(f"/api/v1/live-streams/{stream.pk}").json()
        listed = client.get("/api/v1/live-streams").json()["items"][0]
        for body in (detail, listed):
            assert not set(MANAGER_FIELDS) & set(body), sorted(set(MANAGER_FIELDS) & set(body))
            assert "203.0.113.9" not in str(body) and key[-4:] not in str(body)
            assert body["title"] == stream.title and "viewer_count" in body
    mine = operator_api.get(f"/api/v1/live-streams/{stream.pk}").json()
    assert mine["outputs"][0]["url"] == UDP["url"] and mine["ingest"]["srt_url"]
    assert mine["ingest_key_masked"].endswith(key[-4:]) and mine["job"] == stream.job_id


def test_viewer_count_in_detail_and_list(viewer_api: APIClient, operator_user: Any) -> None:
    stream, _ = live_stream(operator_user, outputs=[UDP])
    other, _ = live_stream(operator_user, outputs=[UDP])
    for viewer in ("a", "b", "c"):
        viewers.viewer_seen(stream.pk, viewer)
    viewers.viewer_seen(other.pk, "a")
    assert viewer_api.get(f"/api/v1/live-streams/{stream.pk}").json()["viewer_count"] == 3
    counts = {
        i["id"]: i["viewer_count"] for i in viewer_api.get("/api/v1/live-streams").json()["items"]
    }
    assert counts == {stream.pk: 3, other.pk: 1}


def test_viewer_samples_are_paged_and_filtered_by_since(
    viewer_api: APIClient, operator_user: Any
) -> None:
    stream, _ = live_stream(operator_user, outputs=[UDP])
    private, _ = live_stream(operator_user, visibility="private", outputs=[UDP])
    now = timezone.now()
    for minutes, count in ((30, 1), (20, 4), (10, 7)):
        ViewerSample.objects.create(stream=stream, at=now - timedelta(minutes=minutes), count=count)
    url = f"/api/v1/live-streams/{stream.pk}/viewers"
    body = viewer_api.get(url, {"limit": 2}).json()
    assert body["total"] == 3 and [i["count"] for i in body["items"]] == [7, 4]
    assert set(body["items"][0]) == {"at", "count"}
    since = (now - timedelta(minutes=25)).isoformat()
    assert [i["count"] for i in viewer_api.get(url, {"since": since}).json()["items"]] == [7, 4]
    bad = viewer_api.get(url, {"since": "yesterday"})
    assert bad.status_code == 400 and "error" in bad.json()
    assert viewer_api.get(f"/api/v1/live-streams/{private.pk}/viewers").status_code == 404
    assert APIClient().get(url).status_code == 401


def test_the_logo_is_an_asset_the_caller_may_use(
    operator_user: Any, operator_api: APIClient, admin_user: Any
) -> None:
    stream, _ = live_stream(operator_user, outputs=[UDP])
    url = f"/api/v1/live-streams/{stream.pk}"
    theirs = _asset(UserFactory(role=Role.OPERATOR))
    refused = operator_api.patch(url, {"logo": theirs.pk}, format="json")
    assert refused.status_code == 400
    assert "logo" in str(refused.json()["error"])
    stream.refresh_from_db()
    assert stream.logo_id is None
    mine = _asset(operator_user)
    assert operator_api.patch(url, {"logo": mine.pk}, format="json").json()["logo"] == mine.pk


def test_delete_removes_the_hls_folder(operator_user: Any, operator_api: APIClient) -> None:
    stream, _ = live_stream(operator_user, outputs=[UDP])
    folder = hls_dir(stream)
    (folder / "0").mkdir(parents=True)
    (folder / "index.m3u8").write_text("#EXTM3U\n")
    (folder / "0" / "seg_0.ts").write_bytes(b"x")
    assert operator_api.delete(f"/api/v1/live-streams/{stream.pk}").status_code == 204
    assert not folder.exists()
