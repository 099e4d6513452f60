"""Mask the stream key in RTMP URL paths where earlier versions kept it in clear.

`rtmp://a.rtmp.youtube.com/live2/<key>`: the key in the path was not taken for a
secret, so audit entries (stream_job.create/update: output summaries and input
URLs) showed it, and the log tails of runs kept the lines in which ffmpeg echoed
the URL. Audit URLs are masked again with today's rule; log tail lines are masked
with the secrets of the job's current input and outputs (a key replaced since is
no longer known here).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from workers.ffmpeg.masking import mask_text, mask_url
from workers.ffmpeg.urls import rtmp_path_key, url_secrets

URL_KINDS = ("rtmp", "rtmps", "srt", "udp")


def _masked(url: Any) -> Any:
    # Only URLs with a key in the path: re-masking an already masked URL would drop
    # the tail its other masked parts show.
    if isinstance(url, str) and rtmp_path_key(url) is not None:
        return mask_url(url)
    return url


def _mask_summary(summary: Any) -> Any:
    if not isinstance(summary, list):
        return summary
    return [
        {**row, "url": _masked(row.get("url"))}
        if isinstance(row, dict) and row.get("kind") in URL_KINDS
        else row
        for row in summary
    ]


def mask_audit_entries(apps: Any, schema_editor: Any) -> None:
    AuditEntry = apps.get_model("accounts", "AuditEntry")
    entries = AuditEntry.objects.filter(action__in=("stream_job.create", "stream_job.update"))
    for entry in entries.iterator():
        changes = dict(entry.changes or {})
        if isinstance(changes.get("outputs"), list):
            changes["outputs"] = [_mask_summary(side) for side in changes["outputs"]]
        if isinstance(changes.get("input_url"), list):
            changes["input_url"] = [_masked(side) for side in changes["input_url"]]
        if changes != entry.changes:
            entry.changes = changes
            entry.save(update_fields=["changes"])


def mask_log_tails(apps: Any, schema_editor: Any) -> None:
    StreamJob = apps.get_model("streams", "StreamJob")
    StreamRun = apps.get_model("streams", "StreamRun")
    for job in StreamJob.objects.iterator():
        secrets = list(url_secrets(job.input_url or ""))
        for output in job.outputs.all():
            secrets += [*url_secrets(output.url or ""), output.stream_key or ""]
        secrets = [secret for secret in secrets if secret]
        if not secrets:
            continue
        for run in StreamRun.objects.filter(job=job).exclude(log_tail=[]).iterator():
            tail = [
                {
                    key: mask_text(value, secrets) if isinstance(value, str) else value
                    for key, value in entry.items()
                }
                if isinstance(entry, dict)
                else entry
                for entry in run.log_tail
            ]
            if tail != run.log_tail:
                run.log_tail = tail
                run.save(update_fields=["log_tail"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("streams", "0007_encrypt_output_urls"),
    ]

    operations = [
        migrations.RunPython(mask_audit_entries, migrations.RunPython.noop),
        migrations.RunPython(mask_log_tails, migrations.RunPython.noop),
    ]
