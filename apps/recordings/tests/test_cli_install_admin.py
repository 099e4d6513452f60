"""The CliInstall admin (apps/accounts/admin.py): masked, read-only rows; a revoke action."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.admin import helpers
from django.test import Client

from apps.accounts.cli_installs import cli_install_claim, cli_install_revoke
from apps.accounts.models import AuditEntry, CliInstall
from apps.recordings.tests.factories import a_user, upload
from apps.recordings.tests.helpers import cli_client

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/accounts/cliinstall/"


def linked_install(username: str) -> tuple[str, CliInstall]:
    raw = str(uuid.uuid4())
    return raw, cli_install_claim(user=a_user(username=username), raw_install_id=raw).install


@pytest.fixture
def admin_client(client: Client, admin_user: Any) -> Client:
    client.force_login(admin_user)
    return client


def test_the_list_shows_masked_ids_owners_and_state(admin_client: Client) -> None:
    raw, _ = linked_install("alice")
    temporary = cli_client()  # an upload-only CLI gets a temporary account
    uploaded = temporary.post("/api/v1/recordings", {"file": upload()}, format="multipart")
    assert uploaded.status_code == 201

    html = admin_client.get(CHANGELIST).content.decode()

    assert f"••••{raw[-4:]}" in html and raw not in html
    assert temporary.install_id not in html  # type: ignore[attr-defined]
    assert "alice" in html and "Linked to an account" in html and "Active" in html
    # Both active; alice's linked, the temporary one not.
    assert html.count('alt="True"') == 3 and html.count('alt="False"') == 1


def test_revoke_refuses_the_cli_and_is_audited(admin_client: Client, admin_user: Any) -> None:
    raw, install = linked_install("alice")
    _, old = linked_install("bob")
    cli_install_revoke(install=old, actor=None)
    cli = cli_client(raw)
    assert cli.post("/api/v1/streams", {}, format="json").status_code == 201

    response = admin_client.post(
        CHANGELIST,
        {"action": "revoke", helpers.ACTION_CHECKBOX_NAME: [install.pk, old.pk]},
        follow=True,
    )

    assert "Revoked 1 CLI install(s). 1 already revoked." in response.content.decode()
    install.refresh_from_db()
    assert install.revoked_at is not None
    assert cli.post("/api/v1/streams", {}, format="json").status_code == 401
    revoked = AuditEntry.objects.get(action="cli_install.revoke", actor=admin_user)
    assert (revoked.target_id, revoked.source) == (str(install.pk), AuditEntry.Source.ADMIN)
    action = AuditEntry.objects.get(action="cliinstall.action.revoke")
    assert sorted(action.changes["ids"][1]) == sorted([str(install.pk), str(old.pk)])


def test_an_install_cannot_be_moved_or_deleted_in_the_admin(admin_client: Client) -> None:
    _, install = linked_install("alice")
    other = a_user(username="mallory")
    page = f"{CHANGELIST}{install.pk}/change/"

    assert admin_client.get(page).status_code == 200  # view only
    assert admin_client.post(page, {"user": other.pk}).status_code == 403
    assert admin_client.get(f"{CHANGELIST}{install.pk}/delete/").status_code == 403
    install.refresh_from_db()
    assert install.user.username == "alice"
