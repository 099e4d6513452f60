"""manage.py rotate_secrets is audited as `secrets.rotate`, with the count and never a secret."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from apps.accounts.commands import unix_user_name
from apps.accounts.models import AuditEntry
from apps.system.models import GlobalSettings

pytestmark = pytest.mark.django_db

SECRET = "smtp-password-never-audited"


def stored_ciphertext(row: GlobalSettings) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT smtp_password FROM system_globalsettings WHERE id = %s", [row.pk])
        return str(cursor.fetchone()[0])


@pytest.fixture
def new_key(settings: Any) -> str:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old_key]
    row = GlobalSettings.load()
    row.smtp_password = SECRET
    row.save()
    settings.FERNET_KEYS = [new_key, old_key]
    return new_key


def test_rotate_secrets_is_audited_as_cli_with_the_count_and_no_secret(new_key: str) -> None:
    before = stored_ciphertext(GlobalSettings.load())
    out = io.StringIO()
    call_command("rotate_secrets", stdout=out)

    [entry] = AuditEntry.objects.filter(action="secrets.rotate")
    assert entry.source == AuditEntry.Source.CLI
    assert (entry.actor_id, entry.actor_repr) == (None, f"unix:{unix_user_name()}")
    assert entry.changes["rows"] == [None, 1]
    assert entry.changes["columns"][1]["system.GlobalSettings"] == ["smtp_password"]
    after = stored_ciphertext(GlobalSettings.load())
    assert after != before
    # Neither the secret nor either ciphertext is in the entry or the output.
    recorded = json.dumps(entry.changes) + entry.target_repr + out.getvalue()
    for value in (SECRET, before, after):
        assert value not in recorded


def test_rotate_secrets_as_an_account_is_audited_as_that_account(
    new_key: str, admin_user: Any
) -> None:
    call_command("rotate_secrets", "--as", "admin", stdout=io.StringIO())
    [entry] = AuditEntry.objects.filter(action="secrets.rotate")
    assert (entry.source, entry.actor_id, entry.actor_repr) == (
        AuditEntry.Source.CLI,
        admin_user.pk,
        "admin",
    )
