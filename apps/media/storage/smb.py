"""SMB shares: checked and listed with smbprotocol (no mount), read by ffmpeg via the mount."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import smbclient
from smbprotocol import exceptions as smb_exc
from smbprotocol.header import NtStatus
from spnego.exceptions import SpnegoError

from .base import (
    CheckResult,
    RemoteEntry,
    SMBConfig,
    StorageError,
    normalize_relpath,
    run_checks,
    scrub,
)
from .mounted import MountedBackend

_STATUS_CODES: dict[int, tuple[str, str]] = {
    NtStatus.STATUS_LOGON_FAILURE: ("storage.auth_failed", "the server rejected the login"),
    NtStatus.STATUS_PASSWORD_EXPIRED: ("storage.auth_failed", "the password has expired"),
    NtStatus.STATUS_BAD_NETWORK_NAME: ("storage.not_found", "no such share"),
    # Samba advertises DFS, so a missing share comes back from the referral as NOT_FOUND.
    NtStatus.STATUS_NOT_FOUND: ("storage.not_found", "no such share or folder"),
    NtStatus.STATUS_OBJECT_NAME_NOT_FOUND: ("storage.not_found", "no such file or folder"),
    NtStatus.STATUS_OBJECT_PATH_NOT_FOUND: ("storage.not_found", "no such file or folder"),
    NtStatus.STATUS_NOT_A_DIRECTORY: ("storage.not_listable", "not a folder"),
    NtStatus.STATUS_ACCESS_DENIED: ("storage.permission_denied", "access denied"),
    NtStatus.STATUS_IO_TIMEOUT: ("storage.timeout", "the server timed out"),
}


class SMBBackend(MountedBackend[SMBConfig]):
    """A folder in an SMB share (Samba, Windows, NAS appliances)."""

    def __repr__(self) -> str:
        return f"SMBBackend({self.config!r})"

    # --- helpers ---------------------------------------------------------------------

    def _unc(self, relpath: str = "") -> str:
        parts = [p for p in (normalize_relpath(self.config.path), relpath) if p]
        tail = "/".join(parts).replace("/", "\\")
        return rf"\\{self.config.host}\{self.config.share}" + (f"\\{tail}" if tail else "")

    def _kwargs(self, cache: dict[str, Any]) -> dict[str, Any]:
        username = self.config.username
        if self.config.domain:
            username = f"{self.config.domain}\\{username}"
        return {
            "username": username,
            "password": self.config.password,
            "port": self.config.port,
            "connection_timeout": self.timeout,
            # A private cache: sessions of different sources (and credentials) never mix.
            "connection_cache": cache,
            "auth_protocol": "ntlm",
        }

    def _error(self, exc: Exception, what: str) -> StorageError:
        """Map smbprotocol's exceptions (raw, or wrapped by smbclient) to coded errors."""
        secrets = self.config.secrets()
        status = getattr(exc, "ntstatus", None) or getattr(exc, "status", None)
        if status is not None and status in _STATUS_CODES:
            code, reason = _STATUS_CODES[status]
            if status == NtStatus.STATUS_BAD_NETWORK_NAME:
                reason = f"share {self.config.share!r} does not exist"
            return StorageError(code, f"{what}: {reason}")
        if isinstance(exc, smb_exc.SMBAuthenticationError | SpnegoError):
            return StorageError("storage.auth_failed", f"{what}: the server rejected the login")
        if isinstance(exc, TimeoutError):
            return StorageError("storage.timeout", f"{what}: no answer within {self.timeout:g}s")
        if isinstance(exc, smb_exc.SMBResponseException):
            return StorageError("storage.error", scrub(f"{what}: {exc.message}", secrets))
        if isinstance(exc, OSError | ValueError | smb_exc.SMBException):
            # smbprotocol wraps connect failures in ValueError with the socket error text.
            message = scrub(str(exc), secrets)
            if "timed out" in message or "timeout" in message:
                return StorageError("storage.timeout", f"{what}: {message}")
            return StorageError("storage.unreachable", f"{what}: {message}")
        raise exc

    def _walk(self, cache: dict[str, Any], relpath: str) -> Iterator[RemoteEntry]:
        kwargs = self._kwargs(cache)
        stack = [relpath]
        while stack:
            current = stack.pop()
            entries = sorted(smbclient.scandir(self._unc(current), **kwargs), key=lambda e: e.name)
            subdirs: list[str] = []
            for entry in entries:
                rel = f"{current}/{entry.name}" if current else entry.name
                # Reparse points (symlinks, junctions) may lead outside the share: skip.
                if entry.is_symlink():
                    continue
                if entry.is_dir():
                    subdirs.append(rel)
                elif entry.is_file():
                    # The listing already carries size and time; entry.stat() would open a
                    # second connection and (smbclient 1.17) forget the non-default port.
                    info = entry.smb_info
                    mtime_ns = int(info.last_write_time.timestamp() * 1_000_000) * 1000
                    yield RemoteEntry(rel, int(info.end_of_file), mtime_ns)
            stack.extend(reversed(subdirs))

    # --- Backend ---------------------------------------------------------------------

    def test(self) -> list[CheckResult]:
        cache: dict[str, Any] = {}
        unc = self._unc()

        def credentials() -> str:
            try:
                smbclient.register_session(self.config.host, **self._kwargs(cache))
            except Exception as exc:
                raise self._error(exc, f"login as {self.config.username!r}") from exc
            return f"logged in as {self.config.username!r}"

        def listable() -> str:
            try:
                names = smbclient.listdir(unc, **self._kwargs(cache))
            except Exception as exc:
                error = self._error(exc, f"listing {unc}")
                if error.code == "storage.error":
                    error = StorageError("storage.not_listable", error.detail)
                raise error from exc
            return f"{len(names)} entries at the top level"

        def readable() -> str:
            try:
                first = next(self._walk(cache, ""), None)
                if first is None:
                    return "no files yet, nothing to read"
                with smbclient.open_file(
                    self._unc(first.relpath), "rb", **self._kwargs(cache)
                ) as fh:
                    fh.read(1)
            except Exception as exc:
                error = self._error(exc, "reading the first file")
                if error.code == "storage.error":
                    error = StorageError("storage.not_readable", error.detail)
                raise error from exc
            return f"read {first.relpath}"

        try:
            return run_checks(
                [
                    (
                        "reachable",
                        self._check_reachable,
                    ),
                    ("credentials", credentials),
                    ("listable", listable),
                    ("readable", readable),
                ]
            )
        finally:
            smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)

    def iter_files(self, prefix: str = "") -> Iterator[RemoteEntry]:
        cache: dict[str, Any] = {}
        try:
            yield from self._walk(cache, normalize_relpath(prefix, "prefix"))
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, f"listing {self._unc(prefix)}") from exc
        finally:
            smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
