"""GET /media (filters, pagination), GET /media/{id}, POST /media/{id}/probe."""

from __future__ import annotations

from typing import Any

import pytest

from apps.media.models import MediaItem
from apps.media.tests.factories import make_item, make_source
from apps.media.tests.helpers import scan_via_api
from workers.ffmpeg.testing import Library

pytestmark = pytest.mark.django_db


def _ids(client: Any, query: str) -> set[int]:
    response = client.get(f"/api/v1/media?{query}")
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


@pytest.fixture
def items() -> dict[str, Any]:
    tv = make_source()
    return {
        "hd": make_item(
            source=tv, relpath="Shows/Pilot HD.mkv", width=1920, height=1080, duration=3000
        ),
        "sd": make_item(
            relpath="old/sd clip.avi", video_codec="mpeg4", width=640, height=480, duration=90
        ),
        "audio": make_item(
            source=tv, relpath="music/song.flac", video_codec="", audio_codec="flac", width=None,
            height=None, duration=200,
        ),
        "gone": make_item(source=tv, relpath="gone.mp4", missing=True, duration=10),
    }  # fmt: skip


def test_filters(viewer_api: Any, items: dict[str, Any]) -> None:
    ids = {name: item.pk for name, item in items.items()}
    assert _ids(viewer_api, f"source={items['hd'].source_id}") == {
        ids["hd"],
        ids["audio"],
        ids["gone"],
    }
    assert _ids(viewer_api, "codec=MPEG4") == {ids["sd"]}
    assert _ids(viewer_api, "codec=flac") == {ids["audio"]}
    assert _ids(viewer_api, "duration_min=100&duration_max=2000") == {ids["audio"]}
    assert _ids(viewer_api, "min_width=1280&min_height=720") == {ids["hd"], ids["gone"]}
    assert _ids(viewer_api, "width=640&height=480") == {ids["sd"]}
    assert _ids(viewer_api, "missing=true") == {ids["gone"]}
    assert _ids(viewer_api, "q=pilot") == {ids["hd"]}


def test_bad_filter_values_are_400_not_500(viewer_api: Any) -> None:
    for query in ("missing=maybe", "duration_min=long", "source=x"):
        response = viewer_api.get(f"/api/v1/media?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"]["code"].startswith("validation.")


def test_pagination_and_ordering(viewer_api: Any, items: dict[str, Any]) -> None:
    body = viewer_api.get("/api/v1/media?limit=2&offset=1&ordering=-duration").json()
    assert (body["total"], body["limit"], body["offset"]) == (4, 2, 1)
    assert [i["id"] for i in body["items"]] == [items["audio"].pk, items["sd"].pk]


def test_detail_has_the_probe(viewer_api: Any, operator_api: Any, library: Library) -> None:
    source = make_source(path=str(library.root))
    scan_via_api(operator_api, source)
    item = MediaItem.objects.get(source=source, relpath="clips/h264.mp4")
    body = viewer_api.get(f"/api/v1/media/{item.pk}").json()
    assert body["probe"]["streams"][0]["codec"] == "h264"
    assert (body["video_codec"], body["name"]) == ("h264", "h264.mp4")
    assert "probe" not in viewer_api.get("/api/v1/media").json()["items"][0]


def test_probe_now_reprobes_one_file(operator_api: Any, viewer_api: Any, library: Library) -> None:
    source = make_source(path=str(library.root))
    scan_via_api(operator_api, source)
    item = MediaItem.objects.get(source=source, relpath='it\'s "quoted".mp4')
    other = MediaItem.objects.get(source=source, relpath="clips/h264.mp4")
    assert viewer_api.post(f"/api/v1/media/{item.pk}/probe").status_code == 403
    response = operator_api.post(f"/api/v1/media/{item.pk}/probe")
    assert response.status_code == 200 and response.json()["video_codec"] == "h264"
    assert MediaItem.objects.get(pk=item.pk).probed_at != item.probed_at
    assert MediaItem.objects.get(pk=other.pk).probed_at == other.probed_at


def test_probe_of_a_broken_file_records_the_error(operator_api: Any, library: Library) -> None:
    source = make_source(path=str(library.root))
    scan_via_api(operator_api, source)
    item = MediaItem.objects.get(source=source, relpath="broken/notes.mp4")
    body = operator_api.post(f"/api/v1/media/{item.pk}/probe").json()
    assert (body["probe_error_code"], body["video_codec"]) == ("probe.invalid_data", "")


@pytest.mark.parametrize("path", ["/api/v1/media", "/api/v1/media-scans"])
@pytest.mark.parametrize("source", ["99999999999999999999", str(2**63), "0", "-1"])
def test_source_ids_no_row_can_have_are_400_not_500(
    viewer_api: Any, path: str, source: str
) -> None:
    response = viewer_api.get(f"{path}?source={source}")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["params"]["field"] == "source"
