import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from castcore.env import (
    distributed_mode,
    embedded_worker,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    persistent_secret,
)
from castcore.tests.test_run_modes import ROOT


@pytest.mark.parametrize("raw", ["true", "TRUE", "1", "yes", "on", " On "])
def test_it_reads_true_values(raw: str) -> None:
    assert env_bool("X", default=False, environ={"X": raw}) is True


@pytest.mark.parametrize("raw", ["false", "0", "no", "off"])
def test_it_reads_false_values(raw: str) -> None:
    assert env_bool("X", default=True, environ={"X": raw}) is False


@pytest.mark.parametrize("raw", ["ture", "2", "enabled", "y"])
def test_a_malformed_boolean_is_an_error(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="not a boolean"):
        env_bool("DEBUG", default=False, environ={"DEBUG": raw})


def test_unset_and_empty_give_the_default() -> None:
    assert env_bool("X", default=True, environ={}) is True
    assert env_bool("X", default=True, environ={"X": ""}) is True


def test_file_variant_is_read_without_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-value\n")
    assert env_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret)}) == "s3cr3t-value"


def test_setting_both_a_value_and_its_file_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("a")
    with pytest.raises(ImproperlyConfigured, match="both set"):
        env_str("SECRET_KEY", environ={"SECRET_KEY": "b", "SECRET_KEY_FILE": str(secret)})


def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="cannot read"):
        env_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_integers_are_strict_and_bounded() -> None:
    assert env_int("N", 3, environ={"N": "7"}) == 7
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("N", 3, environ={"N": "7.5"})
    with pytest.raises(ImproperlyConfigured, match="minimum"):
        env_int("N", 3, minimum=1, environ={"N": "0"})


def test_lists_are_comma_separated_and_trimmed() -> None:
    assert env_list("H", [], environ={"H": " a.example, b.example ,,"}) == [
        "a.example",
        "b.example",
    ]


def test_persistent_secret_is_generated_once_with_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "var" / "key"
    first = persistent_secret(path, lambda: "generated-1")
    second = persistent_secret(path, lambda: "generated-2")
    assert first == second == "generated-1"
    assert path.stat().st_mode & 0o777 == 0o600


def test_floats_are_strict_finite_and_bounded() -> None:
    assert env_float("F", 1.5, environ={"F": "0.25"}) == 0.25
    for bad in ("fast", "nan", "inf"):
        with pytest.raises(ImproperlyConfigured):
            env_float("F", 1.5, environ={"F": bad})
    with pytest.raises(ImproperlyConfigured, match="minimum"):
        env_float("F", 1.5, minimum=0.1, environ={"F": "0.01"})


def test_redis_makes_the_mode_distributed_and_the_worker_separate() -> None:
    assert (distributed_mode({}), embedded_worker({})) == (False, True)
    redis = {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert (distributed_mode(redis), embedded_worker(redis)) == (True, False)
    forced = {**redis, "CASTCORE_EMBEDDED_WORKER": "true"}
    assert embedded_worker(forced) is True


def _web_settings(tmp_path: Path, code: str, *, database_url: str, redis_url: str) -> str:
    """What `code` prints in a web process's settings (CASTCORE_DB_POOL on)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "castcore.settings",
        "CASTCORE_VAR_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CASTCORE_DB_POOL": "true",
        "SECRET_KEY": "x" * 50,
        "CASTCORE_FERNET_KEYS": Fernet.generate_key().decode(),
    }
    env.pop("CASTCORE_EMBEDDED_WORKER", None)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


POOL_SIZE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DATABASES['default'].get('OPTIONS', {}).get('pool', {}).get('max_size'))"
)


@pytest.mark.parametrize(
    ("redis", "pool_size"),
    [("redis://127.0.0.1:6379/9", "20"), ("", "30")],
    ids=["separate workers", "in-process worker"],
)
def test_a_web_pool_makes_room_for_an_in_process_workers_threads(
    tmp_path: Path, redis: str, pool_size: str
) -> None:
    # Each running job holds a worker thread and its connection for as long as it runs.
    database_url = "postgres://postgres@127.0.0.1:5432/castcore"
    printed = _web_settings(tmp_path, POOL_SIZE, database_url=database_url, redis_url=redis)
    assert printed == pool_size


# The settings alone (no django.setup()): the timescale backend is not installed here.
DATABASE_CHECKS = (
    "from django.conf import settings; db = settings.DATABASES['default']; "
    "print(db['ENGINE'], 'pool' in db.get('OPTIONS', {}), db['CONN_HEALTH_CHECKS'])"
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://postgres@127.0.0.1:5432/castcore", "castcore.db.postgresql True False"),
        # Another PostgreSQL backend keeps its pool, checked by the pool itself.
        (
            "timescale://postgres@127.0.0.1:5432/castcore",
            "timescale.db.backends.postgresql True True",
        ),
    ],
    ids=["Django's backend", "another backend"],
)
def test_pooled_connections_are_checked_by_our_backend_or_by_the_pool(
    tmp_path: Path, url: str, expected: str
) -> None:
    redis_url = "redis://127.0.0.1:6379/9"
    printed = _web_settings(tmp_path, DATABASE_CHECKS, database_url=url, redis_url=redis_url)
    assert printed == expected
