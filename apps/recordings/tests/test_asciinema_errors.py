"""Every error code of the asciinema document (401, 403, 404, 422); PATCH/DELETE by id or token."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts import cli_installs
from apps.accounts.models import CliInstall
from apps.recordings.models import Recording
from apps.recordings.tests.factories import upload
from apps.recordings.tests.helpers import basic, cli_client

pytestmark = pytest.mark.django_db


def uploaded(client: APIClient) -> dict[str, Any]:
    return client.post("/api/v1/recordings", {"file": upload()}, format="multipart").json()


def test_patch_by_id_or_url_token_updates_the_recording() -> None:
    client = cli_client()
    created = uploaded(client)
    token = Recording.objects.get(pk=created["id"]).url_token

    by_id = client.patch(
        f"/api/v1/recordings/{created['id']}", {"title": "T", "visibility": "public"}, format="json"
    )
    assert by_id.status_code == 200
    assert by_id.json()["title"] == "T" and by_id.json()["visibility"] == "public"
    assert (
        by_id.json()["url"] == f"http://testserver/r/{created['id']}"
    )  # public: the id is the URL

    by_token = client.patch(
        f"/api/v1/recordings/{token}", {"description": "**bold**"}, format="json"
    )
    assert by_token.status_code == 200 and by_token.json()["description"] == "**bold**"
    assert "<strong>bold</strong>" in Recording.objects.get(pk=created["id"]).description_html

    assert client.delete(f"/api/v1/recordings/{token}").status_code == 204
    assert not Recording.objects.exists()


def test_401_without_or_with_a_bad_install_id() -> None:
    assert APIClient().post("/api/v1/streams", {}, format="json").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Basic !!!notbase64")
    response = bad.post("/api/v1/recordings", {"file": upload()}, format="multipart")
    assert response.status_code == 401
    assert response.json() == {
        "error": "Invalid or revoked install ID",
        "code": "auth.install_id_invalid",
    }
    assert response["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "install_id",
    [
        "6B2F7E0E-1111-4222-8333-944445555666",  # a UUID, but uppercase
        "6b2f7e0e11114222833394444555566",  # hex without the dashes
        "not-a-uuid-but-printable",
        "6b2f7e0e-1111-4222-8333-94444555566g",
    ],
)
def test_an_install_id_that_is_not_a_lowercase_uuid_is_refused_with_401(install_id: str) -> None:
    for path, field in (("/api/v1/recordings", "file"), ("/api/asciicasts", "asciicast")):
        response = cli_client(install_id).post(path, {field: upload()}, format="multipart")

        assert response.status_code == 401
        assert response.json() == {
            "error": "Invalid or revoked install ID",
            "code": "auth.install_id_invalid",
        }
        assert response["WWW-Authenticate"] == 'Basic realm="asciinema"'
    assert not CliInstall.objects.exists() and not Recording.objects.exists()


def test_a_lowercase_uuid_install_id_uploads() -> None:
    response = cli_client("6b2f7e0e-1111-4222-8333-944445555666").post(
        "/api/v1/recordings", {"file": upload()}, format="multipart"
    )
    assert response.status_code == 201
    assert CliInstall.objects.get().last4 == "5666"


def test_401_for_an_unknown_install_id_outside_uploads() -> None:
    response = cli_client().patch("/api/v1/recordings/1", {"title": "x"}, format="json")
    assert response.status_code == 401
    assert not CliInstall.objects.exists()


def test_401_for_a_revoked_install_id() -> None:
    client = cli_client()
    uploaded(client)
    install = CliInstall.objects.get()
    cli_installs.cli_install_revoke(install=install, actor=None)
    response = client.post("/api/v1/recordings", {"file": upload()}, format="multipart")
    assert response.status_code == 401


def test_401_when_uploads_require_a_linked_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("apps.recordings.conf.UPLOAD_AUTH_REQUIRED", True)
    response = cli_client().post("/api/v1/recordings", {"file": upload()}, format="multipart")
    assert response.status_code == 401
    assert not CliInstall.objects.exists() and not Recording.objects.exists()


def test_401_when_global_settings_require_a_linked_cli() -> None:
    from apps.system.models import GlobalSettings

    config = GlobalSettings.load()
    config.upload_auth_required = True
    config.save()
    assert (
        cli_client()
        .post("/api/asciicasts", {"asciicast": upload()}, format="multipart")
        .status_code
        == 401
    )


def test_403_on_someone_elses_recording() -> None:
    created = uploaded(cli_client())
    other = cli_client()
    uploaded(other)  # gives it an account
    response = other.patch(f"/api/v1/recordings/{created['id']}", {"title": "mine"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission.denied"
    assert other.delete(f"/api/v1/recordings/{created['id']}").status_code == 403
    assert Recording.objects.filter(pk=created["id"], title="factory").exists()


def test_404_for_an_unknown_id_or_token() -> None:
    client = cli_client()
    uploaded(client)
    for key in ("999999", "no-such-token"):
        response = client.delete(f"/api/v1/recordings/{key}")
        assert response.status_code == 404 and response.json()["error"] == "Not found"


def test_422_for_invalid_attributes() -> None:
    client = cli_client()
    created = uploaded(client)
    response = client.patch(
        f"/api/v1/recordings/{created['id']}", {"visibility": "secret"}, format="json"
    )
    assert response.status_code == 422
    assert "visibility" in response.json()["details"]


def test_basic_auth_headers_from_curl_with_an_empty_username_work() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic("6b2f7e0e-1111-4222-8333-944445555666", user=""))
    assert (
        client.post("/api/v1/recordings", {"file": upload()}, format="multipart").status_code == 201
    )
