"""Shared types for storage backends: configs, check results, errors.

Nothing here imports Django: the StorageSource model decrypts its secret fields
and hands plain values to these configs.
"""

from __future__ import annotations

import abc
import errno
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

from workers.ffmpeg.addresses import (
    DEFAULT_POLICY,
    LINK_LOCAL,
    PRIVATE,
    AddressPolicy,
    normalize_host,
    refusal,
    resolve_checked,
)

CheckName = Literal["reachable", "credentials", "listable", "readable"]
CHECK_ORDER: tuple[CheckName, ...] = ("reachable", "credentials", "listable", "readable")

DEFAULT_TIMEOUT = 5.0
MASK = "••••"


class StorageError(Exception):
    """A failure with a machine code (`storage.*` or `mount.*`) and a plain explanation.

    The detail is shown to operators, so callers must never put a secret in it;
    `scrub()` is applied wherever text from a tool or library is passed through.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class ConfigError(StorageError):
    """A config value that can never work (bad host, relative path, ...)."""

    def __init__(
        self,
        field_name: str,
        detail: str,
        *,
        code: str = "storage.invalid_config",
        params: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code, f"{field_name}: {detail}")
        self.field_name = field_name
        #: Extra values for the API error (e.g. the option that was refused).
        self.params = params or {}


@dataclass(frozen=True)
class CheckResult:
    """One step of `Backend.test()`; skipped steps have ok=False and skipped=True."""

    name: CheckName
    ok: bool
    code: str | None
    detail: str
    skipped: bool = False


@dataclass(frozen=True)
class RemoteEntry:
    """A file in a source, relative to the source's root (always '/'-separated)."""

    relpath: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class MediaLocation:
    """What ffmpeg/ffprobe get as `-protocol_whitelist WHITELIST -i URL_OR_PATH`."""

    url_or_path: str
    protocol_whitelist: str

    def __repr__(self) -> str:
        # A presigned URL is a bearer credential until it expires: keep it out of logs.
        shown = self.url_or_path.split("?", 1)[0]
        if shown != self.url_or_path:
            shown += f"?{MASK}"
        return (
            f"MediaLocation(url_or_path={shown!r}, protocol_whitelist={self.protocol_whitelist!r})"
        )

    __str__ = __repr__


# --- configs ---------------------------------------------------------------------------
# Secret fields use repr=False so neither repr() nor str() of a config shows them.

_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")
_SHARE_RE = re.compile(r"^[^\\/:*?\"<>|,\x00-\x1f]{1,80}$")
_MOUNT_OPTIONS_RE = re.compile(r"^[A-Za-z0-9_=.:\-]+(,[A-Za-z0-9_=.:\-]+)*$")

# Extra NFS mount options come after our `ro,nosuid,nodev,noexec` and mount honours the
# last one given, so only options that cannot undo those (or name local files, users,
# SELinux contexts, ...) are accepted: tuning and protocol choices, nothing else.
_NFS_FLAG_OPTIONS = frozenset(
    {
        "ro", "nosuid", "nodev", "noexec", "soft", "hard", "softerr", "intr", "nointr",
        "lock", "nolock", "noatime", "nodiratime", "relatime", "ac", "noac", "cto", "nocto",
        "sharecache", "nosharecache", "resvport", "noresvport", "rdirplus", "nordirplus",
        "tcp", "udp",
    }
)  # fmt: skip
_NUMBER = r"[0-9]{1,9}"
_NFS_VALUE_OPTIONS: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"^(?:{pattern})$")
    for name, pattern in {
        "vers": r"[234](\.[0-2])?",
        "nfsvers": r"[234](\.[0-2])?",
        "minorversion": r"[0-2]",
        "proto": r"tcp6?|udp6?|rdma6?",
        "mountproto": r"tcp6?|udp6?",
        "sec": r"sys|krb5|krb5i|krb5p",
        "lookupcache": r"all|none|pos|positive",
        **{
            number: _NUMBER
            for number in (
                "port", "mountport", "timeo", "retrans", "retry", "rsize", "wsize", "actimeo",
                "acregmin", "acregmax", "acdirmin", "acdirmax", "nconnect", "mountvers",
            )
        },
    }.items()
}  # fmt: skip


def check_nfs_options(options: str) -> None:
    """Refuse any NFS mount option that is not known to be harmless, naming it."""
    for option in options.split(","):
        name, has_value, value = option.partition("=")
        if has_value:
            pattern = _NFS_VALUE_OPTIONS.get(name.lower())
            allowed = pattern is not None and pattern.match(value.lower()) is not None
        else:
            allowed = name.lower() in _NFS_FLAG_OPTIONS
        if not allowed:
            raise ConfigError(
                "options",
                f"mount option {option!r} is not allowed (allowed: vers=, proto=, port=, "
                "timeo=, retrans=, rsize=, wsize=, sec=sys, soft, hard, nolock, noatime, ...)",
                code="storage.mount_option_not_allowed",
                params={"option": option},
            )


def _check_host(host: str) -> None:
    if not host or len(host) > 253 or not _HOST_RE.match(host):
        raise ConfigError("host", "must be a host name or an IP address")


_KINDS = {LINK_LOCAL: "a link-local or cloud metadata address", PRIVATE: "a private address"}


def check_address_allowed(
    host: str, field_name: str = "host", policy: AddressPolicy = DEFAULT_POLICY
) -> None:
    """Refuse a host that is, or resolves to, an address the address policy refuses
    (workers/ffmpeg/addresses.py: link-local and metadata; private ranges when off).

    A name that does not resolve now passes: the reachable check reports it, and
    check_tcp() checks again what it actually connects to.
    """
    try:
        resolve_checked(host, 0, policy=policy)
    except PermissionError as refused:
        address = str(refused)
        reason = refusal(address, policy) or LINK_LOCAL  # a metadata name
        shown = "" if address == normalize_host(host) else f" resolves to {address}, which"
        raise ConfigError(
            field_name,
            f"{host!r}{shown} is {_KINDS[reason]}: storage sources may not use it",
            code="storage.address_not_allowed",
            params={"host": host, "address": address, "reason": reason},
        ) from None
    except OSError:
        return


def _check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise ConfigError("port", "must be between 1 and 65535")


def _check_server(host: str, port: int, *, addresses: AddressPolicy) -> None:
    _check_host(host)
    _check_port(port)
    check_address_allowed(host, policy=addresses)


def normalize_relpath(relpath: str, field_name: str = "path") -> str:
    """'a//b/./c' -> 'a/b/c'; refuses '..' and absolute paths so a path never leaves its root."""
    parts = [p for p in relpath.replace("\\", "/").split("/") if p not in ("", ".")]
    if relpath.startswith(("/", "\\")) or ".." in parts or any("\x00" in p for p in parts):
        raise ConfigError(field_name, "must be a relative path without '..'")
    return "/".join(parts)


@dataclass(frozen=True)
class LocalConfig:
    """A directory on the worker's own filesystem."""

    path: str

    def validate(self) -> None:
        if not PurePosixPath(self.path).is_absolute():
            raise ConfigError("path", "must be absolute")

    def secrets(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class S3Config:
    """An S3-compatible bucket (AWS, MinIO, Ceph RGW, Garage, ...)."""

    endpoint_url: str
    region: str
    bucket: str
    access_key: str
    secret_key: str = field(repr=False)
    prefix: str = ""
    use_path_style: bool = True
    verify_tls: bool = True
    #: The address policy (castcore.addresses) the endpoint must pass.
    addresses: AddressPolicy = DEFAULT_POLICY

    def validate(self) -> None:
        parts = urlsplit(self.endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("endpoint_url", "must be an http:// or https:// URL")
        if parts.username or parts.password:
            raise ConfigError("endpoint_url", "must not contain credentials")
        check_address_allowed(parts.hostname, "endpoint_url", self.addresses)
        if not re.match(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$", self.bucket):
            raise ConfigError("bucket", "is not a valid bucket name")
        if not self.region:
            raise ConfigError("region", "is required (use us-east-1 if the server ignores it)")
        normalize_relpath(self.prefix, "prefix")

    def secrets(self) -> tuple[str, ...]:
        return (self.secret_key,)


@dataclass(frozen=True)
class SMBConfig:
    """An SMB/CIFS share; `path` is a folder inside the share."""

    host: str
    share: str
    username: str
    password: str = field(repr=False)
    port: int = 445
    path: str = ""
    domain: str = ""
    addresses: AddressPolicy = DEFAULT_POLICY

    def validate(self) -> None:
        _check_server(self.host, self.port, addresses=self.addresses)
        if not _SHARE_RE.match(self.share):
            raise ConfigError("share", "is not a valid share name")
        normalize_relpath(self.path)

    def secrets(self) -> tuple[str, ...]:
        return (self.password,)


@dataclass(frozen=True)
class NFSConfig:
    """An NFS export; `options` are extra mount options (comma separated)."""

    host: str
    export: str
    path: str = ""
    options: str = ""
    port: int = 2049
    addresses: AddressPolicy = DEFAULT_POLICY

    def validate(self) -> None:
        _check_server(self.host, self.port, addresses=self.addresses)
        if not PurePosixPath(self.export).is_absolute() or "," in self.export:
            raise ConfigError("export", "must be an absolute path such as /srv/media")
        normalize_relpath(self.path)
        if self.options and not _MOUNT_OPTIONS_RE.match(self.options):
            raise ConfigError("options", "must look like 'vers=4.1,ro' (letters, digits, =.:-)")
        if self.options:
            check_nfs_options(self.options)

    def secrets(self) -> tuple[str, ...]:
        return ()


AnyConfig = LocalConfig | S3Config | SMBConfig | NFSConfig


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value in text a tool or library gave us."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


# --- checks ----------------------------------------------------------------------------

CheckFn = Callable[[], str]


def run_checks(steps: Sequence[tuple[CheckName, CheckFn]]) -> list[CheckResult]:
    """Run steps in order; each returns a detail or raises StorageError.

    After the first failure the remaining steps are reported as skipped, because
    e.g. 'not listable' means nothing once the host is unreachable.
    """
    results: list[CheckResult] = []
    failed: CheckName | None = None
    for name, step in steps:
        if failed is not None:
            results.append(CheckResult(name, False, None, f"skipped: {failed} failed", True))
            continue
        try:
            results.append(CheckResult(name, True, None, step()))
        except StorageError as exc:
            results.append(CheckResult(name, False, exc.code, exc.detail))
            failed = name
    return results


def check_tcp(
    host: str, port: int, timeout: float, *, addresses: AddressPolicy = DEFAULT_POLICY
) -> str:
    """Resolve and connect once: separates DNS, refused and silent hosts.

    The addresses are checked again here, where they are used: a name may
    resolve differently now than when the config was validated.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise StorageError("storage.dns_failed", f"cannot resolve host {host!r}") from exc
    for *_rest, sockaddr in infos:
        reason = refusal(str(sockaddr[0]), addresses)
        if reason is not None:
            raise StorageError(
                "storage.address_not_allowed",
                f"{host!r} resolves to {sockaddr[0]}, {_KINDS[reason]}",
            )
    last: OSError | None = None
    for family, socktype, proto, _name, addr in infos:
        try:
            with socket.socket(family, socktype, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(addr)
                return f"connected to {host}:{port}"
        except TimeoutError as exc:
            raise StorageError(
                "storage.timeout", f"no answer from {host}:{port} within {timeout:g}s"
            ) from exc
        except OSError as exc:
            last = exc
    reason = "connection refused" if last and last.errno == errno.ECONNREFUSED else str(last)
    raise StorageError("storage.unreachable", f"cannot connect to {host}:{port}: {reason}")


class Backend(abc.ABC):
    """What the media library needs from any kind of storage source."""

    @abc.abstractmethod
    def test(self) -> list[CheckResult]:
        """Run reachable, credentials, listable and readable checks, in that order."""

    @abc.abstractmethod
    def iter_files(self, prefix: str = "") -> Iterator[RemoteEntry]:
        """Yield regular files under prefix (relative to the source root)."""

    @abc.abstractmethod
    def open_for_ffmpeg(self, relpath: str) -> MediaLocation:
        """Return something ffmpeg/ffprobe can read for the file at relpath."""
