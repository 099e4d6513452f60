"""Stream jobs read recorded inputs at their native rate unless told otherwise.

`realtime` defaulted to False, so every job that did not ask for pacing read its
file, folder or test pattern as fast as ffmpeg could (a test pattern at about 8x,
into RTMP, HLS and recordings alike). False was what a job got, not a choice
anyone could be seen to make, so existing jobs that feed a live output (RTMP, SRT,
UDP, HLS) become paced too. Jobs that only write files keep what they had: that is
the file-to-file work faster-than-real-time is for.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

# Output kinds a viewer or a server receives as it plays (the preview's rule too).
LIVE_OUTPUT_KINDS = ("rtmp", "rtmps", "srt", "udp", "hls")


def pace_existing_jobs(apps: Any, schema_editor: Any) -> None:
    StreamJob = apps.get_model("streams", "StreamJob")
    live = StreamJob.objects.filter(outputs__kind__in=LIVE_OUTPUT_KINDS).values("pk")
    StreamJob.objects.filter(realtime=False, pk__in=live).update(realtime=True)


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0009_run_handover_and_reconnect_budget"),
    ]

    operations = [
        migrations.AlterField(
            model_name="streamjob",
            name="realtime",
            field=models.BooleanField(
                default=True,
                help_text="Read a file, folder, media-library item or test pattern at its native "
                "rate. Off: as fast as FFmpeg can, for file-to-file work only.",
            ),
        ),
        migrations.RunPython(pace_existing_jobs, migrations.RunPython.noop),
    ]
