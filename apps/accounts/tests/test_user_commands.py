"""manage.py createsuperuser and changepassword: Django's commands, audited as `cli`.

createsuperuser runs in its non-interactive form (DJANGO_SUPERUSER_PASSWORD);
changepassword has no such form, so it runs as a real manage.py process that reads
the passwords from its standard input (getpass does, with no terminal to open).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.parse
from typing import Any, cast

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection

from apps.accounts.commands import unix_user_name
from apps.accounts.models import AuditEntry, User
from apps.accounts.roles import Role
from apps.accounts.tests.factories import UserFactory

NEW_PASSWORD = "Never-In-The-Audit-Log-42"


def entry_text(entry: AuditEntry) -> str:
    return json.dumps(entry.changes) + entry.target_repr + entry.actor_repr


@pytest.mark.django_db
def test_createsuperuser_is_audited_as_user_create_by_the_unix_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", NEW_PASSWORD)
    out = io.StringIO()
    call_command(
        "createsuperuser", "--noinput", "--username", "root", "--email", "r@example.com", stdout=out
    )

    user = User.objects.get(username="root")
    assert user.role == Role.ADMIN and user.check_password(NEW_PASSWORD)  # Django's behaviour
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.source) == ("user.create", AuditEntry.Source.CLI)
    assert (entry.actor_id, entry.actor_repr) == (None, f"unix:{unix_user_name()}")
    assert (entry.target_type, entry.target_id) == ("accounts.user", str(user.pk))
    # The API's user.create fields, and only that a password was set.
    assert entry.changes == {
        "username": [None, "root"],
        "email": [None, "r@example.com"],
        "role": [None, "admin"],
        "password": [None, "••••"],
    }
    assert NEW_PASSWORD not in entry_text(entry) + out.getvalue()


@pytest.mark.django_db
def test_createsuperuser_as_an_account_is_audited_as_that_account(
    admin_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", NEW_PASSWORD)
    call_command(
        "createsuperuser",
        "--noinput",
        "--username",
        "second-admin",
        "--email",
        "",
        "--as",
        "admin",
        stdout=io.StringIO(),
    )
    [entry] = AuditEntry.objects.filter(action="user.create")
    assert (entry.source, entry.actor_id, entry.actor_repr) == (
        AuditEntry.Source.CLI,
        admin_user.pk,
        "admin",
    )
    assert entry.target_id == str(User.objects.get(username="second-admin").pk)


@pytest.mark.django_db
def test_createsuperuser_without_a_password_records_none_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    call_command(
        "createsuperuser", "--noinput", "--username", "root", "--email", "", stdout=io.StringIO()
    )
    [entry] = AuditEntry.objects.filter(action="user.create")
    assert not User.objects.get(username="root").has_usable_password()
    assert "password" not in entry.changes


@pytest.mark.django_db
def test_a_refused_createsuperuser_is_not_audited(
    admin_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", NEW_PASSWORD)
    with pytest.raises(CommandError, match="already taken"):
        call_command(
            "createsuperuser",
            "--noinput",
            "--username",
            "admin",
            "--email",
            "",
            stdout=io.StringIO(),
        )
    with pytest.raises(CommandError, match="no active account"):
        call_command(
            "createsuperuser",
            "--noinput",
            "--username",
            "other",
            "--email",
            "",
            "--as",
            "nobody",
            stdout=io.StringIO(),
        )
    assert not AuditEntry.objects.exists()
    assert not User.objects.filter(username="other").exists()


# --- changepassword, in a manage.py process of its own ------------------------------------


def a_user(**fields: Any) -> User:
    return cast(User, UserFactory(**fields))


def manage_py_env() -> dict[str, str]:
    """manage.py in another process, on this test's database (committed: transaction=True)."""
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "postgresql":
        url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
        database_url = url._replace(path="/" + name).geturl()
    else:
        database_url = f"sqlite:///{name}"
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "castcore.settings_test",
        "CASTCORE_FERNET_KEYS": ",".join(django_settings.FERNET_KEYS),
        "CASTCORE_VAR_DIR": str(django_settings.VAR_DIR),
        "SECRET_KEY": django_settings.SECRET_KEY,
    }


def changepassword(*args: str, typed: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(django_settings.BASE_DIR / "manage.py"), "changepassword", *args],
        input="".join(f"{line}\n" for line in typed),
        env=manage_py_env(),
        # No controlling terminal: getpass reads the passwords from standard input.
        start_new_session=True,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_changepassword_is_audited_as_cli_by_the_unix_user_with_the_password_masked() -> None:
    user = a_user(username="mallory")

    done = changepassword("mallory", typed=[NEW_PASSWORD, NEW_PASSWORD])

    assert done.returncode == 0, done.stderr
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.source) == ("user.password_change", AuditEntry.Source.CLI)
    assert (entry.actor_id, entry.actor_repr) == (None, f"unix:{unix_user_name()}")
    assert (entry.target_type, entry.target_id) == ("accounts.user", str(user.pk))
    assert entry.changes == {"password": ["••••", "••••"]}
    assert NEW_PASSWORD not in entry_text(entry) + done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_changepassword_as_an_account_is_audited_as_that_account() -> None:
    admin = a_user(username="admin", role=Role.ADMIN)
    a_user(username="mallory")

    done = changepassword("mallory", "--as", "admin", typed=[NEW_PASSWORD, NEW_PASSWORD])

    assert done.returncode == 0, done.stderr
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.source) == ("user.password_change", AuditEntry.Source.CLI)
    assert (entry.actor_id, entry.actor_repr) == (admin.pk, "admin")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_password_change_given_up_after_three_tries_is_not_audited() -> None:
    a_user(username="mallory")

    done = changepassword("mallory", typed=["one-Password-1", "two-Password-2"] * 3)

    assert done.returncode != 0 and "Aborting password change" in done.stderr
    assert not AuditEntry.objects.exists()
