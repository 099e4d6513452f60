"""Encrypt output URLs at rest, as input URLs and stream keys already were.

An output URL can carry credentials (`rtmp://user:password@…`, `srt://…?passphrase=…`,
the stream key in an RTMP path: `rtmp://a.rtmp.youtube.com/live2/<key>`). The column
becomes a text column first (a token is longer than 1024 characters' worth of URL),
then each row written in clear is encrypted. Raw SQL: the model's field now decrypts
what it reads, and these rows are not encrypted yet.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

import castcore.secrets


def _rows(schema_editor: Any, table: str) -> list[tuple[int, str]]:
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, url FROM {quote(table)}")  # noqa: S608 (a model's table)
        return list(cursor.fetchall())


def _write(schema_editor: Any, table: str, updates: list[tuple[str, int]]) -> None:
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(table)} SET url = %s WHERE id = %s",  # noqa: S608
            updates,
        )


def _is_encrypted(value: str) -> bool:
    try:
        castcore.secrets.fernet().decrypt(value.encode())
    except Exception:
        return False
    return True


def encrypt_output_urls(apps: Any, schema_editor: Any) -> None:
    table = apps.get_model("streams", "StreamOutput")._meta.db_table
    updates = [
        (castcore.secrets.encrypt(url), pk)
        for pk, url in _rows(schema_editor, table)
        if url and not _is_encrypted(url)
    ]
    _write(schema_editor, table, updates)


def decrypt_output_urls(apps: Any, schema_editor: Any) -> None:
    table = apps.get_model("streams", "StreamOutput")._meta.db_table
    updates = [
        (castcore.secrets.decrypt(url), pk)
        for pk, url in _rows(schema_editor, table)
        if url and _is_encrypted(url)
    ]
    _write(schema_editor, table, updates)


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0006_stream_job_disk_quota"),
    ]

    operations = [
        migrations.AlterField(
            model_name="streamoutput",
            name="url",
            field=castcore.secrets.EncryptedTextField(max_length=1024),
        ),
        migrations.RunPython(encrypt_output_urls, decrypt_output_urls),
    ]
