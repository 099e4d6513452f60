"""Migrations that turn a column written in clear into an `EncryptedTextField`.

Raw SQL: once the model's field is encrypted it decrypts what it reads, and the rows
being migrated are not encrypted yet. A value that already decrypts is left as it is,
so running the step twice (or over a half-done run) changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

import castcore.secrets


def _rows(schema_editor: Any, table: str, column: str) -> list[tuple[int, str]]:
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        # A model's table and column, not input.
        cursor.execute(f"SELECT id, {quote(column)} FROM {quote(table)}")  # noqa: S608
        return list(cursor.fetchall())


def _write(schema_editor: Any, table: str, column: str, updates: list[tuple[str, int]]) -> None:
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s",  # noqa: S608
            updates,
        )


def _is_encrypted(value: str) -> bool:
    try:
        castcore.secrets.fernet().decrypt(value.encode())
    except Exception:
        return False
    return True


def encrypt_column(app_label: str, model_name: str, column: str) -> migrations.RunPython:
    """A reversible step that encrypts each value of `column` written in clear."""

    def table(apps: Any) -> str:
        return str(apps.get_model(app_label, model_name)._meta.db_table)

    def forwards(apps: Any, schema_editor: Any) -> None:
        name = table(apps)
        updates = [
            (castcore.secrets.encrypt(value), pk)
            for pk, value in _rows(schema_editor, name, column)
            if value and not _is_encrypted(value)
        ]
        _write(schema_editor, name, column, updates)

    def backwards(apps: Any, schema_editor: Any) -> None:
        name = table(apps)
        updates = [
            (castcore.secrets.decrypt(value), pk)
            for pk, value in _rows(schema_editor, name, column)
            if value and _is_encrypted(value)
        ]
        _write(schema_editor, name, column, updates)

    return migrations.RunPython(forwards, backwards)
