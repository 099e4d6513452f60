"""Prometheus metrics for GET /api/v1/system/metrics, read from the database on each scrape.

Nothing is kept in process memory: web processes come and go and workers run
elsewhere, so every figure comes from rows every process shares — stream
jobs, their current runs' last stats (written by the supervising worker) and
worker heartbeats. A fresh registry per scrape keeps scrapes independent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from apps.system.models import WorkerHeartbeat

JOB_LABELS = ["job_id", "job"]


def _current_runs(job_ids: list[int]) -> dict[int, Any]:
    """The newest run of each job holding the job's fencing token (its current run)."""
    from apps.streams.models import StreamRun

    current: dict[int, Any] = {}
    runs = StreamRun.objects.filter(job_id__in=job_ids).order_by("job_id", "-number")
    for run in runs.select_related("job", "job__profile"):
        if run.job_id not in current and run.fencing_token == run.job.fencing_token:
            current[run.job_id] = run
    return current


class StreamJobCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        from apps.streams.models import ACTIVE_JOB_STATES, JobState, StreamJob, StreamRun
        from apps.streams.selectors import with_reported_state
        from apps.streams.status import LIVE_STATES, status_payload

        # By the state the API reports, so a job whose run's lease expired counts as lost.
        reported: QuerySet[Any] = with_reported_state(StreamJob.objects.all())  # annotated
        by_state = dict(reported.order_by().values_list("reported_state").annotate(n=Count("id")))
        jobs_metric = GaugeMetricFamily(
            "castcore_stream_jobs", "Stream jobs by state, as the API reports it.", labels=["state"]
        )
        for state in JobState:
            jobs_metric.add_metric([state.value], by_state.get(state.value, 0))
        yield jobs_metric

        gauges = {
            "fps": GaugeMetricFamily(
                "castcore_stream_job_fps",
                "Frames per second of the running job.",
                labels=JOB_LABELS,
            ),
            "bitrate_kbps": GaugeMetricFamily(
                "castcore_stream_job_bitrate_kbps", "Output bitrate in kbit/s.", labels=JOB_LABELS
            ),
            "speed": GaugeMetricFamily(
                "castcore_stream_job_speed", "Encoding speed (1.0 = real time).", labels=JOB_LABELS
            ),
            "health": GaugeMetricFamily(
                "castcore_stream_job_health", "Health score 0-100.", labels=JOB_LABELS
            ),
            "reconnects": GaugeMetricFamily(
                "castcore_stream_job_reconnects",
                "Reconnects of the job's current run.",
                labels=JOB_LABELS,
            ),
            "up": GaugeMetricFamily(
                "castcore_stream_job_up",
                "1 while the job has an active run; 0 once it is lost (its lease expired).",
                labels=JOB_LABELS,
            ),
        }
        restarts = CounterMetricFamily(
            "castcore_stream_job_restarts",
            "Runs started for the job after its first (restarts, reconnect-exhausted retries).",
            labels=JOB_LABELS,
        )
        active = list(
            StreamJob.objects.filter(state__in=ACTIVE_JOB_STATES).select_related("profile")
        )
        runs = _current_runs([job.pk for job in active])
        run_counts = dict(
            StreamRun.objects.values_list("job_id").annotate(n=Count("id")).order_by()
        )
        for job in active:
            labels = [str(job.pk), job.name]
            status = status_payload(job, runs.get(job.pk))
            gauges["up"].add_metric(labels, 1 if status["state"] in LIVE_STATES else 0)
            gauges["health"].add_metric(labels, status["health"])
            gauges["reconnects"].add_metric(labels, status["reconnects"])
            figures = {"fps": status["fps"], "bitrate_kbps": status["bitrate_kbps"]}
            figures["speed"] = status["speed"]
            for key, value in figures.items():
                if value is not None:  # unknown until the first progress block
                    gauges[key].add_metric(labels, float(value))
            restarts.add_metric(labels, max(run_counts.get(job.pk, 0) - 1, 0))
        yield from gauges.values()
        yield restarts


class WorkerCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        age = GaugeMetricFamily(
            "castcore_worker_heartbeat_age_seconds",
            "Seconds since each Celery worker last wrote its heartbeat.",
            labels=["worker", "embedded"],
        )
        for row in WorkerHeartbeat.objects.order_by("hostname"):
            seconds = max((now - row.last_seen).total_seconds(), 0.0)
            age.add_metric([row.hostname, "true" if row.embedded else "false"], seconds)
        yield age


def render_metrics() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StreamJobCollector())
    registry.register(WorkerCollector())
    return generate_latest(registry)
