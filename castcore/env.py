"""Strict parsing of CastCore's environment variables.

A value that does not parse is an error at start-up, never a silent default:
`DEBUG=ture` must not quietly run a production server in debug mode.
Every reader accepts a `NAME_FILE` variant so secrets can come from files
(Docker/Kubernetes secrets) instead of the process environment.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_raw(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Return NAME, or the contents of the file NAME_FILE points to, or None."""
    environ = os.environ if environ is None else environ
    direct = environ.get(name)
    file_path = environ.get(f"{name}_FILE")
    if direct is not None and file_path is not None:
        raise ImproperlyConfigured(f"{name} and {name}_FILE are both set; set only one.")
    if file_path is not None:
        try:
            # Secret files conventionally end with a newline that is not part of the value.
            return Path(file_path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE: cannot read {file_path}: {exc.strerror}"
            ) from exc
    return direct


def env_str(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    value = env_raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    value = env_raw(name, environ)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean; use one of true/false, yes/no, on/off, 1/0."
    )


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = env_raw(name, environ)
    if value is None or value.strip() == "":
        return default
    try:
        parsed = int(value.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from exc
    if minimum is not None and parsed < minimum:
        raise ImproperlyConfigured(f"{name}={parsed} is below the minimum of {minimum}.")
    return parsed


def env_float(
    name: str,
    default: float,
    *,
    minimum: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> float:
    value = env_raw(name, environ)
    if value is None or value.strip() == "":
        return default
    try:
        parsed = float(value.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from exc
    if parsed != parsed or parsed in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={value!r} is not a finite number.")
    if minimum is not None and parsed < minimum:
        raise ImproperlyConfigured(f"{name}={parsed} is below the minimum of {minimum}.")
    return parsed


def env_list(name: str, default: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    value = env_raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(
    name: str, environ: Mapping[str, str] | None = None
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated addresses or CIDR networks (`10.0.0.0/8, ::1`); none when unset."""
    networks = []
    for value in env_list(name, [], environ):
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {value!r} is not an IP address or network (e.g. 10.0.0.0/8)."
            ) from None
    return tuple(networks)


def redis_db(url: str) -> int:
    """The database number in a redis:// URL (0 when it names none)."""
    path = urllib.parse.urlsplit(url).path.strip("/")
    return int(path) if path.isdecimal() else 0


def persistent_secret(path: Path, generate: Callable[[], str]) -> str:
    """Read a generated secret from `path`, creating it (mode 0600) on first use.

    Only the embedded mode uses this: one machine, one process, so a key kept
    under var/ is stable across restarts without any configuration.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    value = generate()
    # O_EXCL: if two processes race on first start, exactly one key wins.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def distributed_mode(environ: Mapping[str, str] | None = None) -> bool:
    """Redis set: Celery and the channel layer cross processes (and hosts) through it.

    DATABASE_URL alone (PostgreSQL on one host with the in-process worker) is a valid,
    simpler setup, and not distributed.
    """
    return bool(env_str("REDIS_URL", environ=environ))


def embedded_worker(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the web process runs the Celery worker and beat itself (CASTCORE_EMBEDDED_WORKER);
    by default in the embedded mode only, where nothing else would run them."""
    default = not distributed_mode(environ)
    return env_bool("CASTCORE_EMBEDDED_WORKER", default=default, environ=environ)
