"""Every process redacts known secrets from its log, whatever configures logging after start-up."""

from __future__ import annotations

import io
import logging
import logging.config
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from castcore.secrets import encrypt, remember
from castcore.tests.test_run_modes import SERVER_START_S

CANARY = "canary-S3-key-id-AKIA0123456789"
ROOT = Path(settings.BASE_DIR)


def test_a_handler_configured_after_start_up_still_redacts() -> None:
    remember(CANARY)
    stream = io.StringIO()
    logger = logging.getLogger("castcore.tests.reconfigured")
    # A handler with no filter at all, as basicConfig or another dictConfig makes.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("key id %s", CANARY)
        logger.warning("preformatted " + CANARY)
        try:
            raise RuntimeError(CANARY)
        except RuntimeError:
            logger.exception("failed")
        logger.warning("where", stack_info=True)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert CANARY not in text
    assert text.count("••••6789") == 3


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_process_redacts_secrets_from_its_log(tmp_path: Path) -> None:
    # A real worker with Celery's own logging set-up (it replaces the root logger's
    # handlers), at DEBUG, on its own broker folder and the test database.
    env: dict[str, Any] = {
        key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "LOG_LEVEL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="castcore.settings",
        DATABASE_URL=_database_url(),
        CASTCORE_VAR_DIR=str(tmp_path / "var"),
        CASTCORE_FERNET_KEYS=",".join(settings.FERNET_KEYS),
        SECRET_KEY=settings.SECRET_KEY,
    )
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "castcore", "worker", "-Q", "default",
             "-P", "solo", "-l", "DEBUG", "-I", "castcore.tests.log_canary_tasks",
             "--without-mingle", "--without-gossip", "-n", f"canary-{os.getpid()}@%h"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            # The task gets the secret encrypted, as tasks get ids of rows that hold them.
            subprocess.run(
                [sys.executable, "-m", "celery", "-A", "castcore", "call",
                 "castcore.tests.log_canary", "--queue", "default",
                 "--args", f'["{encrypt(CANARY)}"]'],
                env=env, cwd=ROOT, check=True, capture_output=True, timeout=SERVER_START_S,
            )  # fmt: skip
            deadline = time.monotonic() + 90
            while "canary done" not in log_path.read_text(errors="replace"):
                assert worker.poll() is None, log_path.read_text(errors="replace")
                assert time.monotonic() < deadline, log_path.read_text(errors="replace")
                time.sleep(0.2)
        finally:
            worker.kill()
            worker.wait(10)
    text = log_path.read_text(errors="replace")
    for line in ("Credential=", "formatted before", "printed", "raised", "after basicConfig"):
        assert line in text, line
    assert CANARY not in text
    assert "••••6789" in text


def test_a_manage_py_process_redacts_after_logging_is_configured_again(tmp_path: Path) -> None:
    code = (
        "import logging, logging.config\n"
        "from castcore.secrets import remember\n"
        f"remember({CANARY!r})\n"
        "logging.config.dictConfig({'version': 1, 'handlers': {'h': {'class': "
        "'logging.StreamHandler'}}, 'root': {'handlers': ['h'], 'level': 'INFO'}})\n"
        f"logging.getLogger('boto3').warning('key id %s', {CANARY!r})\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(DJANGO_SETTINGS_MODULE="castcore.settings", CASTCORE_VAR_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "key id ••••6789" in result.stderr
    assert CANARY not in result.stdout + result.stderr


THREAD_AND_WARNING = f"""
import threading, warnings
import django
django.setup()
from castcore.secrets import remember
remember({CANARY!r})
def fail():
    raise RuntimeError("could not reach rtmp://host/live/{CANARY}")
thread = threading.Thread(target=fail, name="doomed")
thread.start()
thread.join()
warnings.warn("slow answer from {CANARY}")
"""


def test_a_thread_that_dies_and_a_warning_are_written_redacted() -> None:
    # In a process of its own: pytest replaces both hooks while a test runs.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "castcore.settings_test"}
    done = subprocess.run(
        [sys.executable, "-c", THREAD_AND_WARNING], capture_output=True, text=True, env=env,
        cwd=ROOT, timeout=SERVER_START_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout + done.stderr
    assert "Exception in thread doomed" in printed and "slow answer from" in printed
    assert CANARY not in printed
