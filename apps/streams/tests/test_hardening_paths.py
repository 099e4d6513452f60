"""File and HLS outputs are written only under the output roots, file inputs read only under
the input roots; symlinks and `..` cannot leave them, and the server's own secrets are never
targets, whatever the roots say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from apps.media.tests.factories import make_source
from apps.streams import conf
from apps.streams.models import StreamJob
from apps.streams.tests.factories import job_with_outputs, new_profile

pytestmark = pytest.mark.django_db


def body(outputs: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"name": "paths", "input_kind": "test_pattern", "profile": new_profile().pk,
            "outputs": outputs, **fields}  # fmt: skip


def create(api: APIClient, **fields: Any) -> Any:
    outputs = fields.pop("outputs", None) or [
        {"kind": "rtmp", "url": "rtmp://127.0.0.1/live", "stream_key": "k-1234567"}
    ]
    return api.post("/api/v1/stream-jobs", body(outputs, **fields), format="json")


def refused(response: Any, field: str, *, reason: str | None = None) -> bool:
    """A 400 `stream_job.path_not_allowed` for `field` (and for `reason`, if given)."""
    error = response.json()["error"]
    params = error["params"]
    return (
        response.status_code == 400
        and (error["code"], params["field"]) == ("stream_job.path_not_allowed", field)
        and (reason is None or params.get("reason") == reason)
    )


@pytest.fixture
def roots(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Only tmp_path/out for outputs and tmp_path/in for inputs."""
    (tmp_path / "out").mkdir()
    (tmp_path / "in").mkdir()
    monkeypatch.setattr(conf, "OUTPUT_ROOTS", (str(tmp_path / "out"),))
    monkeypatch.setattr(conf, "INPUT_ROOTS", (str(tmp_path / "in"),))
    return tmp_path


@pytest.mark.parametrize("kind", ["file", "hls"])
def test_an_output_outside_the_roots_is_refused(
    operator_api: APIClient, roots: Path, kind: str
) -> None:
    for path in (
        f"{roots}/out/../x/evil/../x.mkv",  # `..` resolved first
        "/tmp/x/../x/evil/../x.mkv",
        str(Path(django_settings.VAR_DIR) / "castcore.sqlite3"),
        "/root/.ssh/authorized_keys",
    ):
        response = create(operator_api, outputs=[{"kind": kind, "url": path}])
        assert refused(response, "outputs.0.url"), (path, response.content)
    assert not StreamJob.objects.exists()
    assert (
        create(operator_api, outputs=[{"kind": kind, "url": f"{roots}/out/a.mkv"}]).status_code
        == 201
    )


def test_a_symlink_cannot_lead_out_of_a_root(operator_api: APIClient, roots: Path) -> None:
    (roots / "out" / "link").symlink_to(roots / "elsewhere", target_is_directory=True)
    (roots / "out" / "file.mkv").symlink_to(roots / "victim.txt")
    for path in (f"{roots}/out/link/x.mkv", f"{roots}/out/file.mkv"):
        response = create(operator_api, outputs=[{"kind": "file", "url": path}])
        assert refused(response, "outputs.0.url"), path


def test_hidden_files_under_a_root_are_not_written(operator_api: APIClient, roots: Path) -> None:
    response = create(operator_api, outputs=[{"kind": "file", "url": f"{roots}/out/.bashrc"}])
    assert refused(response, "outputs.0.url")


def test_a_file_input_outside_the_input_roots_is_refused(
    operator_api: APIClient, roots: Path
) -> None:
    for path in ("/etc/passwd", f"{roots}/out/a.mp4", f"{roots}/in/../secret.mp4"):
        response = create(operator_api, input_kind="file", input_path=path)
        assert refused(response, "input_path"), path
    assert (
        create(operator_api, input_kind="file", input_path=f"{roots}/in/a.mp4").status_code == 201
    )


def test_local_storage_source_folders_are_input_roots(operator_api: APIClient, roots: Path) -> None:
    (roots / "library").mkdir()
    make_source(path=str(roots / "library"))
    path = f"{roots}/library/show.mp4"
    assert create(operator_api, input_kind="file", input_path=path).status_code == 201


def test_the_defaults_are_var_outputs_and_the_media_root(
    operator_api: APIClient, monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> None:
    monkeypatch.setattr(conf, "OUTPUT_ROOTS", None)
    monkeypatch.setattr(conf, "INPUT_ROOTS", None)
    settings.MEDIA_ROOT = tmp_path / "media"
    allowed = [Path(settings.VAR_DIR) / "outputs" / "a.mkv", tmp_path / "media" / "b.mkv"]
    for path in allowed:
        assert create(operator_api, outputs=[{"kind": "file", "url": str(path)}]).status_code == 201
    response = create(operator_api, outputs=[{"kind": "file", "url": str(tmp_path / "c.mkv")}])
    assert refused(response, "outputs.0.url")
    inputs = [tmp_path / "media" / "in.mp4", Path(settings.VAR_DIR) / "inputs" / "in.mp4"]
    for path in inputs:
        assert create(operator_api, input_kind="file", input_path=str(path)).status_code == 201


def test_secrets_of_the_server_are_refused_even_under_a_root_of_slash(
    operator_api: APIClient, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    monkeypatch.setattr(conf, "OUTPUT_ROOTS", ("/",))
    monkeypatch.setattr(conf, "INPUT_ROOTS", ("/",))
    var = Path(settings.VAR_DIR)
    for path in (var / "secret_key", var / "fernet_key", Path(settings.BASE_DIR) / "manage.py",
                 Path("/etc/cron.d/x"), Path("/root/.ssh/authorized_keys")):  # fmt: skip
        response = create(operator_api, outputs=[{"kind": "file", "url": str(path)}])
        assert refused(response, "outputs.0.url"), path
        reason = response.json()["error"]["params"]["reason"]
        assert reason == ("managed" if path.parent == var else "protected"), path
        response = create(operator_api, input_kind="file", input_path=str(path))
        assert refused(response, "input_path"), path


def test_a_start_checks_a_file_input_against_the_storage_sources_of_now(
    operator_api: APIClient, roots: Path
) -> None:
    (roots / "library").mkdir()
    source = make_source(path=str(roots / "library"))
    job = job_with_outputs(
        {"kind": "file", "url": f"{roots}/out/a.mkv"},
        input_kind="file",
        input_path=f"{roots}/library/show.mp4",
    )
    assert operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start").status_code == 200
    operator_api.post(f"/api/v1/stream-jobs/{job.pk}/stop")
    source.delete()
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert refused(response, "input_path"), response.content


def test_a_job_saved_before_the_roots_changed_cannot_start(
    operator_api: APIClient, roots: Path
) -> None:
    job = job_with_outputs({"kind": "file", "url": "/tmp/elsewhere/out.mkv"})  # a direct row
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert refused(response, "outputs.0.url"), response.content


MANAGED = ["assets", "thumbnails", "recordings", "database", "keys"]


def managed_target(name: str, settings: Any) -> Path:
    """An existing file CastCore manages, under the name castcore.managed gives it."""
    media = Path(settings.MEDIA_ROOT)
    target = {
        "assets": media / "assets" / "logo.png",
        "thumbnails": media / "thumbnails" / "ab" / "thumb.jpg",
        "recordings": media / "recordings" / "2026" / "rec.mkv",
        "database": Path(settings.DATABASES["default"]["NAME"]),
        "keys": media.parent / "keys" / "fernet",  # CASTCORE_FERNET_KEYS_FILE, see wide_roots
    }[name]
    if name == "database" and not target.is_absolute():
        pytest.skip("the database is a server (PostgreSQL), not a file")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"managed")
    return target


@pytest.fixture
def wide_roots(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> None:
    """Output roots that hold every managed folder: the media root, VAR_DIR, tmp_path."""
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setenv("CASTCORE_FERNET_KEYS_FILE", str(tmp_path / "keys" / "fernet"))
    roots = (str(tmp_path), str(settings.VAR_DIR))
    monkeypatch.setattr(conf, "OUTPUT_ROOTS", roots)


@pytest.mark.parametrize(
    ("name", "kind"),
    [(name, "file") for name in MANAGED]
    + [(name, "hls") for name in ("assets", "thumbnails", "recordings")],  # folders
)
def test_castcores_own_files_are_never_an_output_whatever_the_roots_say(
    operator_api: APIClient, wide_roots: None, settings: Any, name: str, kind: str
) -> None:
    target = managed_target(name, settings)
    before = target.read_bytes()
    path = target if kind == "file" else target.parent  # HLS names a folder
    response = create(operator_api, outputs=[{"kind": kind, "url": str(path)}])
    assert refused(response, "outputs.0.url", reason="managed"), response.content
    assert response.json()["error"]["params"]["managed"] == name
    assert not StreamJob.objects.exists()
    assert target.read_bytes() == before or name == "database"


def test_a_managed_folder_refuses_an_output_below_it_through_a_symlink(
    operator_api: APIClient, wide_roots: None, settings: Any
) -> None:
    asset = managed_target("assets", settings)
    link = Path(settings.MEDIA_ROOT) / "exports"
    link.symlink_to(asset.parent, target_is_directory=True)
    response = create(operator_api, outputs=[{"kind": "file", "url": f"{link}/{asset.name}"}])
    assert refused(response, "outputs.0.url", reason="managed")


@pytest.mark.parametrize("name", MANAGED)
def test_a_saved_output_into_a_managed_folder_cannot_start(
    operator_api: APIClient, wide_roots: None, settings: Any, name: str
) -> None:
    target = managed_target(name, settings)
    job = job_with_outputs({"kind": "file", "url": str(target)})  # a row from before the rule
    response = operator_api.post(f"/api/v1/stream-jobs/{job.pk}/start")
    assert refused(response, "outputs.0.url", reason="managed"), response.content
    assert response.json()["error"]["params"]["managed"] == name
    assert not job.runs.exists()
    assert target.read_bytes() == b"managed" or name == "database"
