"""Encrypt output URLs at rest, as input URLs and stream keys already were.

An output URL can carry credentials (`rtmp://user:password@…`, `srt://…?passphrase=…`,
the stream key in an RTMP path: `rtmp://a.rtmp.youtube.com/live2/<key>`). The column
becomes a text column first (a token is longer than 1024 characters' worth of URL),
then each row written in clear is encrypted (castcore.db.encrypted_columns).
"""

from __future__ import annotations

from django.db import migrations

import castcore.secrets
from castcore.db.encrypted_columns import encrypt_column


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
        encrypt_column("streams", "StreamOutput", "url"),
    ]
