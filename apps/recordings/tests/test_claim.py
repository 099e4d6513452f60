"""GET/POST /connect/<install id>: a signed-in user links a CLI and takes over its work."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from apps.accounts.models import CliInstall, User
from apps.recordings.models import Recording, TerminalStream
from apps.recordings.tests.factories import a_user, upload
from apps.recordings.tests.helpers import cli_client

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_the_login_page() -> None:
    install_id = str(uuid.uuid4())
    response = Client().get(f"/connect/{install_id}")
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=%2Fconnect%2F{install_id}"


def test_the_login_page_signs_in_and_returns_to_connect(password: str) -> None:
    user = a_user()
    client = Client()
    install_id = str(uuid.uuid4())
    response = client.post(
        "/login/",
        {"username": user.username, "password": password, "next": f"/connect/{install_id}"},
    )
    assert response.status_code == 302 and response["Location"] == f"/connect/{install_id}"
    page = client.get(f"/connect/{install_id}")
    assert page.status_code == 200 and b"Link this CLI" in page.content
    assert install_id.encode() not in page.content  # masked: the ID is a password


def test_the_connect_page_refuses_an_install_id_that_is_not_a_lowercase_uuid() -> None:
    user = a_user()
    for install_id in (str(uuid.uuid4()).upper(), "abcdefgh-1"):
        assert signed_in(user).get(f"/connect/{install_id}").status_code == 404
        response = signed_in(user).post(f"/connect/{install_id}")
        assert response.status_code == 409 and b"cli_install.invalid" in response.content
    assert not CliInstall.objects.exists()


def test_claiming_moves_recordings_and_streams_and_removes_the_temporary_account() -> None:
    cli = cli_client()
    recording_id = cli.post("/api/v1/recordings", {"file": upload()}, format="multipart").json()[
        "id"
    ]
    stream_id = cli.post("/api/v1/streams", {"title": "s"}, format="json").json()["id"]
    temp = Recording.objects.get(pk=recording_id).owner
    Recording.objects.filter(pk=recording_id).update(hidden_at="2020-01-01T00:00:00Z")
    user = a_user()

    response = signed_in(user).post(f"/connect/{cli.install_id}")  # type: ignore[attr-defined]

    assert response.status_code == 200 and b"1 recording and 1 stream moved" in response.content
    recording = Recording.objects.get(pk=recording_id)
    assert recording.owner == user and recording.hidden_at is None
    assert TerminalStream.objects.get(pk=stream_id).owner == user
    assert not User.objects.filter(pk=temp.pk).exists()
    assert CliInstall.objects.get().user == user
    # The CLI now acts as the user.
    again = cli.post("/api/v1/recordings", {"file": upload()}, format="multipart")
    assert Recording.objects.get(pk=again.json()["id"]).owner == user


def test_linking_a_cli_that_never_uploaded_registers_it() -> None:
    user = a_user()
    install_id = str(uuid.uuid4())
    assert signed_in(user).post(f"/connect/{install_id}").status_code == 200
    cli = cli_client(install_id)
    created = cli.post("/api/v1/streams", {}, format="json")
    assert created.status_code == 201
    assert TerminalStream.objects.get().owner == user


def test_a_cli_linked_to_someone_else_cannot_be_claimed() -> None:
    install_id = str(uuid.uuid4())
    signed_in(a_user()).post(f"/connect/{install_id}")
    response = signed_in(a_user()).post(f"/connect/{install_id}")
    assert response.status_code == 409 and b"cli_install.linked_to_other_user" in response.content


def test_a_claim_that_fails_midway_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    cli = cli_client()
    recording_id = cli.post("/api/v1/recordings", {"file": upload()}, format="multipart").json()[
        "id"
    ]
    temp = Recording.objects.get(pk=recording_id).owner

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(User, "delete", boom)
    with pytest.raises(RuntimeError):
        signed_in(a_user()).post(f"/connect/{cli.install_id}")  # type: ignore[attr-defined]
    assert Recording.objects.get(pk=recording_id).owner == temp
    assert CliInstall.objects.get().user == temp
