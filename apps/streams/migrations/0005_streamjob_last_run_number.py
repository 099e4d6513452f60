from django.db import migrations, models


class Migration(migrations.Migration):
    # No back-fill: begin_run numbers a run after the larger of this counter and the
    # job's highest run number, so jobs with runs from before go on from those.
    dependencies = [
        ("streams", "0004_mask_output_urls_in_audit"),
    ]

    operations = [
        migrations.AddField(
            model_name="streamjob",
            name="last_run_number",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
    ]
