from django.db import migrations, models
from django.db.models import Max, OuterRef, Subquery
from django.db.models.functions import Coalesce


def count_existing_runs(apps, schema_editor):
    StreamJob = apps.get_model("streams", "StreamJob")
    StreamRun = apps.get_model("streams", "StreamRun")
    latest = (
        StreamRun.objects.filter(job=OuterRef("pk"))
        .values("job")
        .annotate(latest=Max("number"))
        .values("latest")
    )
    StreamJob.objects.update(last_run_number=Coalesce(Subquery(latest), 0))


class Migration(migrations.Migration):
    dependencies = [
        ("streams", "0004_mask_output_urls_in_audit"),
    ]

    operations = [
        migrations.AddField(
            model_name="streamjob",
            name="last_run_number",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_existing_runs, migrations.RunPython.noop),
    ]
