"""Mask credentials in output URLs that earlier audit entries stored in clear.

Before this, stream_job.create/update entries copied each output's URL as
written (`srt://h?passphrase=…`, `rtmp://user:pass@h/app`); every Viewer could
read them through GET /audit. Only the `outputs` summaries change.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from workers.ffmpeg.masking import mask_url

URL_KINDS = ("rtmp", "rtmps", "srt", "udp")


def _mask_summary(summary: Any) -> Any:
    if not isinstance(summary, list):
        return summary
    return [
        {**row, "url": mask_url(str(row.get("url") or ""))}
        if isinstance(row, dict) and row.get("kind") in URL_KINDS
        else row
        for row in summary
    ]


def mask_audit_urls(apps: Any, schema_editor: Any) -> None:
    AuditEntry = apps.get_model("accounts", "AuditEntry")
    entries = AuditEntry.objects.filter(action__in=("stream_job.create", "stream_job.update"))
    for entry in entries.iterator():
        outputs = (entry.changes or {}).get("outputs")
        if not isinstance(outputs, list):
            continue
        masked = [_mask_summary(side) for side in outputs]
        if masked != outputs:
            entry.changes = {**entry.changes, "outputs": masked}
            entry.save(update_fields=["changes"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("streams", "0003_media_inputs"),
    ]

    operations = [migrations.RunPython(mask_audit_urls, migrations.RunPython.noop)]
