import pytest
from django.conf import settings

from castcore.celery import QUEUES, app


def registered_tasks() -> set[str]:
    app.loader.import_default_modules()
    return set(app.tasks)


def test_every_scheduled_task_exists() -> None:
    missing = {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    } - registered_tasks()
    assert missing == set()


def test_the_app_speaks_json_only_and_has_the_named_queues() -> None:
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    assert (
        {queue.name for queue in app.conf.task_queues}
        == set(QUEUES)
        == {"default", "ffmpeg", "scans"}
    )


def test_autostart_is_a_registered_task() -> None:
    assert "workers.stream_jobs.autostart_stream_jobs" in registered_tasks()


def queue_of(task_name: str) -> str:
    route = app.amqp.router.route({}, task_name)
    return str(route["queue"].name)


def test_ffmpeg_work_and_scans_are_routed_to_their_queues() -> None:
    assert queue_of("workers.stream_jobs.run_stream_job") == "ffmpeg"
    assert queue_of("workers.preflight.run_preflight") == "ffmpeg"
    assert queue_of("workers.preflight.run_dry_run") == "ffmpeg"
    assert queue_of("scans.scan_storage_source") == "scans"
    assert queue_of("workers.stream_jobs.reconcile_stream_runs") == "default"


def test_tasks_dispatched_from_a_web_process_use_castcores_broker() -> None:
    import os
    import subprocess
    import sys

    code = (
        "import django; django.setup()\n"
        "from workers.scans import scan_storage_source\n"
        "from workers.recordings import cleanup_unclaimed_recordings\n"
        "for task in (scan_storage_source, cleanup_unclaimed_recordings):\n"
        "    print(task.app.main, task.app.conf.broker_url)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "castcore.settings",
        "REDIS_URL": "redis://127.0.0.1:6379/9",
        "SECRET_KEY": "s" * 50,
        "CASTCORE_FERNET_KEYS": "x" * 43 + "=",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == ["castcore redis://127.0.0.1:6379/9"] * 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("max_age", "kept"), [(60, True), (0, False)])
def test_a_task_keeps_its_database_connection_for_conn_max_age(max_age: int, kept: bool) -> None:
    # With Celery's own Django fixup installed, as in a worker process: it used to
    # close every connection around every task, so each stream start reconnected.
    from celery import signals
    from celery.fixups.django import DjangoWorkerFixup
    from django.db import connection

    from workers.stream_jobs import reconcile_stream_runs

    in_memory = getattr(connection, "is_in_memory_db", lambda: False)()
    if not kept and connection.vendor == "sqlite" and in_memory:
        pytest.skip("Django never closes an in-memory SQLite test database")
    fixup = DjangoWorkerFixup(app)
    signals.task_prerun.connect(fixup.on_task_prerun)
    signals.task_postrun.connect(fixup.on_task_postrun)
    old_max_age = connection.settings_dict["CONN_MAX_AGE"]
    try:
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = max_age
        connection.ensure_connection()
        before = connection.connection
        request = type("Request", (), {"is_eager": False})()
        sender = type("Sender", (), {"request": request})()
        signals.task_prerun.send(sender=sender, task_id="t", task=reconcile_stream_runs)
        signals.task_postrun.send(sender=sender, task_id="t", task=reconcile_stream_runs)
        assert (connection.connection is before) is kept
    finally:
        signals.task_prerun.disconnect(fixup.on_task_prerun)
        signals.task_postrun.disconnect(fixup.on_task_postrun)
        connection.settings_dict["CONN_MAX_AGE"] = old_max_age
