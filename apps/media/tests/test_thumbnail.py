"""GET /media/{id}/thumbnail: a real JPEG, made once, with cache headers."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from apps.media.models import MediaItem
from apps.media.tests.factories import make_source
from apps.media.tests.helpers import scan_via_api
from workers.ffmpeg.testing import Library

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanned(operator_api: Any, library: Library) -> Any:
    source = make_source(path=str(library.root))
    scan_via_api(operator_api, source)
    return source


def _item(source: Any, relpath: str) -> MediaItem:
    return MediaItem.objects.get(source=source, relpath=relpath)


def test_it_is_a_jpeg_with_cache_headers_made_once(
    viewer_api: Any, scanned: Any, media_dirs: Any
) -> None:
    item = _item(scanned, "-rf.mp4")
    first = viewer_api.get(f"/api/v1/media/{item.pk}/thumbnail")
    assert first.status_code == 200
    assert first["Content-Type"] == "image/jpeg"
    assert first["Cache-Control"].startswith("private, max-age=")
    assert first["ETag"] and first["Last-Modified"]
    data = b"".join(first.streaming_content)
    assert data[:3] == b"\xff\xd8\xff"
    files = list((media_dirs / "thumbnails").rglob("*.jpg"))
    assert len(files) == 1
    with Image.open(files[0]) as im:
        assert im.width == min(320, item.width or 0)  # never upscaled past the source
    made = files[0].stat().st_mtime_ns
    second = viewer_api.get(f"/api/v1/media/{item.pk}/thumbnail")
    assert second.status_code == 200 and second["ETag"] == first["ETag"]
    assert files[0].stat().st_mtime_ns == made  # served from the cache, not made again
    assert list((media_dirs / "thumbnails").rglob("*.jpg")) == files
    cached = viewer_api.get(f"/api/v1/media/{item.pk}/thumbnail", HTTP_IF_NONE_MATCH=first["ETag"])
    assert cached.status_code == 304 and cached["ETag"] == first["ETag"]
    assert _item(scanned, "-rf.mp4").thumbnail


def test_audio_has_no_thumbnail(viewer_api: Any, scanned: Any) -> None:
    response = viewer_api.get(f"/api/v1/media/{_item(scanned, 'audio/tone.mp3').pk}/thumbnail")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "thumbnail.no_video"


def test_a_broken_file_has_no_thumbnail(viewer_api: Any, scanned: Any) -> None:
    response = viewer_api.get(f"/api/v1/media/{_item(scanned, 'broken/corrupt.mp4').pk}/thumbnail")
    assert response.status_code == 404
    assert response.json()["error"]["params"]["probe_error"] == "probe.invalid_data"


def test_a_missing_file_answers_409(viewer_api: Any, scanned: Any) -> None:
    item = _item(scanned, "clips/h264.mp4")
    MediaItem.objects.filter(pk=item.pk).update(missing=True)
    response = viewer_api.get(f"/api/v1/media/{item.pk}/thumbnail")
    assert response.status_code == 409 and response.json()["error"]["code"] == "media.missing"


def test_errors_stay_json_for_clients_asking_for_jpeg(viewer_api: Any) -> None:
    response = viewer_api.get("/api/v1/media/999/thumbnail", HTTP_ACCEPT="image/jpeg")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
