"""castcore.settings, kept apart per pytest-xdist worker: the tests' settings start here.

`make test` runs the suite in several pytest processes (pytest-xdist) on one machine and
one Redis server. pytest-django gives each its own test database (`test_<name>_gw0`, …);
this module gives each worker, before castcore.settings reads the environment:

- its own folder for what the tests and their servers write, `<CASTCORE_VAR_DIR>/gw0`
  (SQLite test database, run folders, HLS, nginx, the embedded broker);
- its own Redis database, REDIS_URL's plus the worker's number (gw0 → 9, gw1 → 10 for
  `/9`), so a test's queues, cache and the cache's FLUSHDB are its worker's alone;

and so, through castcore.settings, a channel-layer prefix that names that Redis database
(pub/sub channels are server-wide, not per database).

The environment is changed, not only the settings, because processes a test starts
(Celery workers, daphne) inherit it; they name this module (or castcore.settings_test) as
their settings. A process that inherits an environment already made
for its worker (CASTCORE_TEST_WORKER set) keeps it as it is, as it keeps what a test sets.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import MutableMapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from castcore.env import env_str, redis_db

#: Redis serves databases 0-15 unless its configuration says otherwise.
REDIS_DATABASES = 16


def _isolate_worker(environ: MutableMapping[str, str]) -> None:
    """Point this pytest-xdist worker's environment at its own folder and Redis database."""
    worker = environ.get("PYTEST_XDIST_WORKER", "")  # set by pytest-xdist: gw0, gw1, …
    if not worker or environ.get("CASTCORE_TEST_WORKER") == worker:
        return
    number = int(worker.removeprefix("gw"))
    base_dir = Path(__file__).resolve().parent.parent
    var_dir = Path(env_str("CASTCORE_VAR_DIR", str(base_dir / "var"), environ))
    environ.pop("CASTCORE_VAR_DIR_FILE", None)  # read above; NAME and NAME_FILE exclude each other
    environ["CASTCORE_VAR_DIR"] = str(var_dir / worker)
    redis_url = env_str("REDIS_URL", "", environ)
    if redis_url:
        parts = urllib.parse.urlsplit(redis_url)
        db = redis_db(redis_url) + number
        if db >= REDIS_DATABASES:
            raise ImproperlyConfigured(
                f"REDIS_URL's database {redis_db(redis_url)} + {number} for worker {worker} is "
                f"past Redis's last database ({REDIS_DATABASES - 1}): run fewer workers (-n) "
                "or start from a lower database."
            )
        environ.pop("REDIS_URL_FILE", None)
        environ["REDIS_URL"] = parts._replace(path=f"/{db}").geturl()
    environ["CASTCORE_TEST_WORKER"] = worker


_isolate_worker(os.environ)

from castcore.settings import *  # noqa: E402, F403
