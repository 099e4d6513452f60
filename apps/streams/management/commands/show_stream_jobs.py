from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.streams.models import JobState, StreamJob
from apps.streams.selectors import jobs_in_reported_state
from apps.streams.status import status_event


class Command(BaseCommand):
    help = "List stream jobs with their live state, fps, speed and health."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--state",
            choices=JobState.values,
            help="only jobs in this state, as the API reports it (lost included)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        jobs = StreamJob.objects.select_related("profile").order_by("id")
        if options.get("state"):
            jobs = jobs_in_reported_state(jobs, options["state"])
        self.stdout.write(f"{'id':>5}  {'state':<12} {'fps':>6} {'speed':>6} {'health':>6}  name")
        for job in jobs:
            status = status_event(job)
            fps = f"{status['fps']:.1f}" if status["fps"] is not None else "-"
            speed = f"{status['speed']:.2f}" if status["speed"] is not None else "-"
            state, health = status["state"], status["health"]
            self.stdout.write(
                f"{job.pk:>5}  {state:<12} {fps:>6} {speed:>6} {health:>6}  {job.name}"
            )
