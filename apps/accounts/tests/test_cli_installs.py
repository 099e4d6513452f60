"""/api/v1/cli-installs: a user lists their asciinema CLIs and revokes one."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts import cli_installs
from apps.accounts.models import AuditEntry, CliInstall
from apps.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def link(user: Any) -> tuple[str, CliInstall]:
    raw = str(uuid.uuid4())
    return raw, cli_installs.cli_install_claim(user=user, raw_install_id=raw).install


def test_it_lists_only_my_installs_masked(viewer_api: APIClient, viewer_user: Any) -> None:
    raw, mine = link(viewer_user)
    link(UserFactory())

    body = viewer_api.get("/api/v1/cli-installs").json()

    assert [item["id"] for item in body["items"]] == [mine.pk]
    assert body["items"][0]["install_id"].endswith(raw[-4:]) and raw not in str(body)


def test_revoking_makes_the_cli_get_401(viewer_api: APIClient, viewer_user: Any) -> None:
    from apps.recordings.tests.helpers import cli_client

    raw, install = link(viewer_user)
    cli = cli_client(raw)
    assert cli.post("/api/v1/streams", {}, format="json").status_code == 201

    assert viewer_api.delete(f"/api/v1/cli-installs/{install.pk}").status_code == 204

    install.refresh_from_db()
    assert install.revoked_at is not None
    assert cli.post("/api/v1/streams", {}, format="json").status_code == 401
    assert AuditEntry.objects.filter(
        action="cli_install.revoke", target_id=str(install.pk)
    ).exists()


def test_i_cannot_revoke_someone_elses(viewer_api: APIClient) -> None:
    _, theirs = link(UserFactory())
    assert viewer_api.delete(f"/api/v1/cli-installs/{theirs.pk}").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_anonymous_is_401(api: APIClient) -> None:
    assert api.get("/api/v1/cli-installs").status_code == 401


def test_install_ids_are_stored_hashed() -> None:
    raw, install = link(UserFactory())
    assert raw not in (install.install_id_hash,) and len(install.install_id_hash) == 64
    assert cli_installs.cli_install_find(raw) == install


def test_an_unknown_install_id_is_not_registered_for_redaction() -> None:
    from castcore.secrets import redact

    unknown = str(uuid.uuid4())
    assert cli_installs.cli_install_authenticate(raw_install_id=unknown) is None
    assert redact(unknown) == unknown  # spam takes no place in the bounded registry
    made = cli_installs.cli_install_authenticate(raw_install_id=unknown, create_temporary=True)
    assert made is not None and unknown not in redact(f"id {unknown}")
