"""POST /assets (multipart), GET /assets, DELETE /assets/{id} with real files."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.media import conf
from apps.media.models import Asset
from apps.media.tests.test_validation import _jpeg_with_exif, _png, _png_declaring
from apps.media.usage import register_asset_usage, unregister_asset_usage

pytestmark = pytest.mark.django_db


def _upload(client: Any, data: bytes, filename: str, kind: str = "logo", **extra: Any) -> Any:
    return client.post(
        "/api/v1/assets",
        {"kind": kind, "file": SimpleUploadedFile(filename, data), **extra},
        format="multipart",
    )


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_a_png_logo_is_stored(operator_api: Any, media_dirs: Path) -> None:
    response = _upload(operator_api, _png((64, 32)), "../../Logo.PNG", name="Station logo")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["mime"], body["width"], body["height"]) == (
        "logo",
        "image/png",
        64,
        32,
    )
    assert body["name"] == "Station logo" and body["uploaded_by"] == operator_api.user.pk
    stored = media_dirs / Asset.objects.get().file.name
    assert stored.is_file() and body["url"].endswith(Asset.objects.get().file.name)
    assert ".." not in Asset.objects.get().file.name
    assert list((media_dirs / "assets" / ".incoming").iterdir()) == []  # no temp files left


def test_jpeg_exif_is_stripped(operator_api: Any, media_dirs: Path) -> None:
    response = _upload(operator_api, _jpeg_with_exif(), "photo.jpeg", kind="thumbnail")
    assert response.status_code == 201, response.content
    stored = (media_dirs / Asset.objects.get().file.name).read_bytes()
    assert b"SpyCam" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as im:
        assert dict(im.getexif()) == {}


def test_a_decompression_bomb_is_refused(operator_api: Any) -> None:
    response = _upload(operator_api, _png_declaring(50_000, 50_000), "bomb.png")
    assert _error(response) == (400, "asset.decompression_bomb")
    assert not Asset.objects.exists()


def test_a_polyglot_loses_its_payload(operator_api: Any, media_dirs: Path) -> None:
    payload = b"<html><script>alert(1)</script></html>PK\x03\x04zip-payload"
    response = _upload(operator_api, _png() + payload, "overlay.png", kind="overlay")
    assert response.status_code == 201
    stored = (media_dirs / Asset.objects.get().file.name).read_bytes()
    assert b"<script>" not in stored and b"zip-payload" not in stored


def test_text_named_png_is_not_an_image(operator_api: Any) -> None:
    response = _upload(operator_api, b"just some text, honestly\n" * 10, "logo.png")
    assert _error(response) == (415, "asset.type_not_allowed")


def test_an_image_for_a_clip_kind_is_refused(operator_api: Any) -> None:
    assert _error(_upload(operator_api, _png(), "intro.png", kind="intro")) == (
        415,
        "asset.kind_mismatch",
    )


def test_oversize_is_413_while_streaming(
    operator_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "ASSET_MAX_IMAGE_BYTES", 100_000)
    big = os.urandom(300_000)
    response = _upload(operator_api, _png() + big, "big.png")
    assert _error(response) == (413, "asset.too_large")
    assert response.json()["error"]["params"]["max_bytes"] == 100_000


def test_a_body_over_every_limit_is_refused_before_parsing(
    operator_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "ASSET_MAX_IMAGE_BYTES", 50_000)
    monkeypatch.setattr(conf, "ASSET_MAX_VIDEO_BYTES", 60_000)
    response = _upload(operator_api, os.urandom(400_000), "huge.png")
    assert _error(response) == (413, "asset.too_large")
    assert response.json()["error"]["params"]["max_bytes"] == 60_000


def test_an_intro_clip_is_remuxed(operator_api: Any, mp4_clip: Path) -> None:
    response = _upload(operator_api, mp4_clip.read_bytes(), "intro.mp4", kind="intro")
    assert response.status_code == 201, response.content
    assert response.json()["mime"] == "video/mp4" and response.json()["duration"] > 0.5


def test_missing_fields_are_400(operator_api: Any) -> None:
    response = operator_api.post("/api/v1/assets", {"kind": "logo"}, format="multipart")
    assert _error(response) == (400, "validation.required")
    assert (
        _error(_upload(operator_api, _png(), "a.png", kind="banner"))[1]
        == "validation.invalid_choice"
    )


def test_viewers_list_but_do_not_upload(viewer_api: Any, operator_api: Any) -> None:
    _upload(operator_api, _png(), "a.png")
    assert viewer_api.get("/api/v1/assets?kind=logo").json()["total"] == 1
    assert viewer_api.get("/api/v1/assets?kind=slate").json()["total"] == 0
    assert _upload(viewer_api, _png(), "b.png").status_code == 403


def test_deleting_removes_the_file(
    operator_api: Any, media_dirs: Path, django_capture_on_commit_callbacks: Any
) -> None:
    asset_id = _upload(operator_api, _png(), "a.png").json()["id"]
    stored = media_dirs / Asset.objects.get().file.name
    with django_capture_on_commit_callbacks(execute=True):
        assert operator_api.delete(f"/api/v1/assets/{asset_id}").status_code == 204
    assert not stored.exists() and not Asset.objects.exists()


def test_deleting_an_asset_in_use_is_409(operator_api: Any, media_dirs: Path) -> None:
    asset_id = _upload(operator_api, _png(), "a.png").json()["id"]
    # How stream jobs and channels will declare their use (apps.media.usage).
    register_asset_usage("stream_job", lambda asset: ["job 7"] if asset.pk == asset_id else [])
    try:
        response = operator_api.delete(f"/api/v1/assets/{asset_id}")
    finally:
        unregister_asset_usage("stream_job")
    assert _error(response) == (409, "asset.in_use")
    assert response.json()["error"]["params"]["used_by"] == {"stream_job": ["job 7"]}
    assert (media_dirs / Asset.objects.get().file.name).is_file()
