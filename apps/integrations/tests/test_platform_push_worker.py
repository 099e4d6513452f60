"""Across processes: a job's start, committed here, sends its metadata from a real worker."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.db import transaction
from kombu.simple import SimpleQueue

from apps.integrations.platforms.models import AccountKind, PlatformAccount, PlatformMetadata
from apps.integrations.tests.platform_server import CLIENT_ID, CLIENT_SECRET, running_platform
from apps.streams.tests.factories import job_with_outputs
from castcore.celery import app
from castcore.events import emit
from castcore.tests.celery_workers import ffmpeg_worker_env


def test_a_committed_start_reaches_the_platform_through_the_worker(
    transactional_db: None, settings: Any, tmp_path: Path
) -> None:
    env = ffmpeg_worker_env(settings)
    with app.connection_for_write() as conn:
        SimpleQueue(conn, "default").clear()
    with running_platform() as platform:
        env.update(
            CASTCORE_TWITCH_CLIENT_ID=CLIENT_ID,
            CASTCORE_TWITCH_CLIENT_SECRET=CLIENT_SECRET,
            CASTCORE_TWITCH_TOKEN_URL=f"{platform.url}/token",
            CASTCORE_TWITCH_API_URL=platform.url,
        )
        token = platform.issue()
        account = PlatformAccount.objects.create(
            name="T", platform="twitch", kind=AccountKind.OAUTH,
            access_token=token["access_token"], refresh_token=token["refresh_token"],
            external_id="4711",
        )  # fmt: skip
        job = job_with_outputs({"platform_account": account}, name="Night show")
        PlatformMetadata.objects.create(job=job, platform="twitch", title="{{ job.name }} live")
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "castcore", "worker", "-Q", "default",
             "-P", "threads", "-c", "2", "--without-mingle", "--without-gossip", "-l", "INFO",
             "-n", "platforms-push@%h"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR,
        )  # fmt: skip
        try:
            with transaction.atomic():
                emit(
                    "stream_job.started",
                    {"stream_job_id": job.pk, "name": job.name, "state": "running",
                     "previous_state": None, "reason": ""},
                    subject=f"stream_job:{job.pk}",
                )  # fmt: skip
            deadline = time.monotonic() + 60
            while not platform.pushed and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(20)
            log.close()
        assert platform.pushed, (tmp_path / "worker.log").read_text()[-3000:]
        assert platform.pushed[0]["body"]["title"] == "Night show live"
        assert PlatformMetadata.objects.get().last_push_code == "platform.ok"
        assert token["access_token"] not in (tmp_path / "worker.log").read_text()
