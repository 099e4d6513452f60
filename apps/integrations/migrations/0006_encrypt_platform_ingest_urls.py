"""Encrypt platform accounts' ingest URLs at rest and show them masked, as output URLs are.

An ingest URL can carry the secret a platform checks: SRT's `streamid` and `passphrase`
in the query, a key as the last segment of an RTMP path. The column becomes a text
column, then each row written in clear is encrypted (castcore.db.encrypted_columns).
"""

from __future__ import annotations

from django.db import migrations

import castcore.secrets
from castcore.db.encrypted_columns import encrypt_column


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0005_owncast_webhooks_and_kept_tokens"),
    ]

    operations = [
        migrations.AlterField(
            model_name="platformaccount",
            name="ingest_url",
            field=castcore.secrets.EncryptedTextField(blank=True, default="", max_length=1024),
        ),
        encrypt_column("integrations", "PlatformAccount", "ingest_url"),
    ]
