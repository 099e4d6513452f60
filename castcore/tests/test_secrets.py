import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from apps.system.models import GlobalSettings
from castcore import secrets
from castcore.secrets import RedactSecretsFilter, decrypt, encrypt, mask, remember


def test_mask_shows_only_the_last_four_characters() -> None:
    assert mask("rtmp-stream-key-1234") == "••••1234"


def test_mask_hides_short_secrets_entirely() -> None:
    assert mask("abc12") == "••••"
    assert mask("") == ""


def test_encrypt_round_trips_and_is_not_plain() -> None:
    token = encrypt("live_abcdef123456")
    assert "live_abcdef123456" not in token
    assert decrypt(token) == "live_abcdef123456"


def test_log_filter_redacts_known_secrets() -> None:
    remember("sk_live_supersecretvalue")
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "pushing with key %s", ("sk_live_supersecretvalue",), None
    )
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == "pushing with key ••••alue"


def test_log_filter_redacts_secrets_in_tracebacks() -> None:
    remember("tb-secret-0987654321")
    try:
        raise RuntimeError("failed with tb-secret-0987654321")
    except RuntimeError:
        import sys

        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    RedactSecretsFilter().filter(record)
    assert "tb-secret-0987654321" not in (record.exc_text or "")
    assert "••••4321" in (record.exc_text or "")


@pytest.mark.django_db
def test_encrypted_field_stores_ciphertext_and_reads_plain_text() -> None:
    row = GlobalSettings.load()
    row.smtp_password = "mail-password-42"
    row.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT smtp_password FROM system_globalsettings WHERE id = %s", [row.pk])
        stored = cursor.fetchone()[0]
    assert "mail-password-42" not in stored
    assert GlobalSettings.objects.get(pk=row.pk).smtp_password == "mail-password-42"


@pytest.mark.django_db
def test_rotation_re_encrypts_with_the_new_key(settings: pytest.FixtureRequest) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old_key]  # type: ignore[attr-defined]
    row = GlobalSettings.load()
    row.smtp_password = "rotate-me-please"
    row.save()

    settings.FERNET_KEYS = [new_key, old_key]  # type: ignore[attr-defined]
    call_command("rotate_secrets", verbosity=0)

    settings.FERNET_KEYS = [new_key]  # type: ignore[attr-defined]
    assert GlobalSettings.objects.get(pk=row.pk).smtp_password == "rotate-me-please"


@pytest.mark.django_db
def test_a_value_encrypted_with_a_dropped_key_fails_loudly(settings: pytest.FixtureRequest) -> None:
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]  # type: ignore[attr-defined]
    token = encrypt("lost-secret-value")
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]  # type: ignore[attr-defined]
    with pytest.raises(secrets.SecretDecryptionError):
        decrypt(token)
