"""Stream jobs read recorded inputs at their native rate unless told otherwise.

`realtime` defaulted to False, so every job that did not ask for pacing read its
file, folder or test pattern as fast as ffmpeg could (a test pattern at about 8x,
into RTMP, HLS and recordings alike). False was what a job got, not a choice
anyone could be seen to make, so existing jobs become paced too; a job meant for
file-to-file work turns it off again.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def pace_existing_jobs(apps: Any, schema_editor: Any) -> None:
    StreamJob = apps.get_model("streams", "StreamJob")
    StreamJob.objects.filter(realtime=False).update(realtime=True)


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0005_streamjob_last_run_number"),
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
