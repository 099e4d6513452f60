"""Checks of where the job writes: network targets, local folders, free disk space."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from workers.ffmpeg.addresses import refusal
from workers.ffmpeg.preflight.results import GIB, CheckResult, PreflightOptions, Status
from workers.ffmpeg.preflight.results import result as _check
from workers.ffmpeg.spec import (
    FileOutput,
    HlsLadderOutput,
    HlsOutput,
    OutputSpec,
    RtmpOutput,
    SrtOutput,
    UdpOutput,
)

# ------------------------------------------------------------------ network outputs


class Lookup:
    """getaddrinfo on a daemon thread: a resolver that hangs cannot hold the check."""

    def __init__(self, host: str, port: int) -> None:
        self.addresses: list[tuple[Any, ...]] | None = None
        self.error: str | None = None
        self._done = threading.Event()
        threading.Thread(
            target=self._run, args=(host, port), daemon=True, name="preflight-dns"
        ).start()

    def _run(self, host: str, port: int) -> None:
        try:
            self.addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            self.error = type(exc).__name__ if not isinstance(exc, socket.gaierror) else "not_found"
        finally:
            self._done.set()

    def result(self, timeout: float) -> list[tuple[Any, ...]] | str:
        if not self._done.wait(timeout):
            return "timeout"
        return self.addresses if self.addresses is not None else (self.error or "failed")


def network_endpoint(output: OutputSpec) -> tuple[str, str, int] | None:
    """(scheme, host, port) for network outputs."""
    if not isinstance(output, RtmpOutput | SrtOutput | UdpOutput):
        return None
    parts = urllib.parse.urlsplit(output.url)
    default = {"rtmp": 1935, "rtmps": 443, "srt": 0, "udp": 0}[parts.scheme]
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _connect(addresses: list[tuple[Any, ...]], timeout: float) -> str | None:
    """None when one address accepts a TCP connection, else the last error's name."""
    error = "no_address"
    for family, socktype, proto, _name, address in addresses:
        try:
            with socket.socket(family, socktype, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
                return None
        except TimeoutError:
            error = "timeout"
        except ConnectionRefusedError:
            error = "refused"
        except OSError as exc:
            error = type(exc).__name__
    return error


def check_network_output(
    index: int, output: OutputSpec, lookup: Lookup, options: PreflightOptions
) -> Iterator[CheckResult]:
    endpoint = network_endpoint(output)
    assert endpoint is not None
    scheme, host, port = endpoint
    base = {"output": index, "output_name": output.name, "scheme": scheme, "host": host}
    resolved = lookup.result(options.dns_timeout_s)
    if isinstance(resolved, str):
        yield _check(
            f"output.{index}.dns",
            Status.RED,
            "preflight.dns_failed",
            f"The host {host} of output {index + 1} could not be resolved.",
            reason=resolved,
            **base,
        )
        return
    refused = [str(a[4][0]) for a in resolved if refusal(str(a[4][0]), options.addresses)]
    if refused:
        # Saved while the name pointed elsewhere (DNS changed): never connect there.
        yield _check(
            f"output.{index}.dns",
            Status.RED,
            "preflight.address_not_allowed",
            f"The host {host} of output {index + 1} resolves to an address the address "
            "policy refuses.",
            addresses=refused[:4],
            reason=refusal(refused[0], options.addresses),
            **base,
        )
        return
    yield _check(
        f"output.{index}.dns",
        Status.GREEN,
        "preflight.dns_ok",
        f"{host} resolves.",
        addresses=sorted({str(a[4][0]) for a in resolved})[:4],
        **base,
    )
    if scheme in ("srt", "udp"):
        return  # UDP: nothing answers a connect; resolving is all we can check without sending
    error = _connect(resolved, options.connect_timeout_s)
    if error is not None:
        yield _check(
            f"output.{index}.reachable",
            Status.RED,
            "preflight.output_unreachable",
            f"Output {index + 1} ({host}:{port}) did not accept a connection.",
            port=port,
            reason=error,
            **base,
        )
        return
    yield _check(
        f"output.{index}.reachable",
        Status.GREEN,
        "preflight.output_reachable",
        f"{host}:{port} accepts connections.",
        port=port,
        **base,
    )


def check_stream_key(index: int, output: RtmpOutput) -> CheckResult:
    if not output.stream_key.strip() and not output.key_in_url:
        return _check(
            f"output.{index}.stream_key",
            Status.RED,
            "preflight.stream_key_missing",
            f"Output {index + 1} has no stream key.",
            output=index,
            output_name=output.name,
        )
    return _check(
        f"output.{index}.stream_key",
        Status.GREEN,
        "preflight.stream_key_set",
        "Stream key set.",
        output=index,
        output_name=output.name,
    )


# ------------------------------------------------------------------ local outputs and disk


def existing_ancestor(path: Path) -> Path:
    """The path itself, or its nearest parent that exists: where a folder to be made would be."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_local_output(index: int, output: FileOutput | HlsOutput | HlsLadderOutput) -> CheckResult:
    directory = Path(output.path if isinstance(output, FileOutput) else output.directory).resolve()
    if isinstance(output, FileOutput):
        directory = directory.parent
    base = {"output": index, "output_name": output.name, "directory": str(directory)}
    anchor = existing_ancestor(directory)
    if not anchor.is_dir() or not os.access(anchor, os.W_OK | os.X_OK):
        return _check(
            f"output.{index}.writable",
            Status.RED,
            "preflight.output_not_writable",
            f"Output {index + 1} cannot be written: {directory} is not a writable folder.",
            **base,
        )
    if isinstance(output, FileOutput) and os.path.exists(output.path):
        return _check(
            f"output.{index}.writable",
            Status.YELLOW,
            "preflight.output_file_exists",
            f"Output {index + 1} already exists and will be overwritten.",
            path=output.path,
            **base,
        )
    return _check(
        f"output.{index}.writable", Status.GREEN, "preflight.output_writable", "Writable.", **base
    )


def check_disk(directories: Sequence[str], options: PreflightOptions) -> Iterator[CheckResult]:
    seen: set[int] = set()
    for number, directory in enumerate(directories):
        anchor = existing_ancestor(Path(directory).resolve())
        try:
            device = anchor.stat().st_dev
            usage = shutil.disk_usage(anchor)
        except OSError as exc:
            yield _check(
                f"disk.{number}",
                Status.RED,
                "preflight.disk_unknown",
                f"Free space of {directory} could not be read.",
                path=directory,
                error=type(exc).__name__,
            )
            continue
        if device in seen:
            continue
        seen.add(device)
        params = {"path": str(anchor), "free_bytes": usage.free, "total_bytes": usage.total}
        free_gib = usage.free / GIB
        if usage.free < options.disk_red_bytes:
            yield _check(
                f"disk.{number}",
                Status.RED,
                "preflight.disk_low",
                f"Only {free_gib:.1f} GiB free at {anchor}.",
                **params,
            )
        elif usage.free < options.disk_yellow_bytes:
            yield _check(
                f"disk.{number}",
                Status.YELLOW,
                "preflight.disk_low",
                f"{free_gib:.1f} GiB free at {anchor}; recordings may fill it.",
                **params,
            )
        else:
            yield _check(
                f"disk.{number}",
                Status.GREEN,
                "preflight.disk_ok",
                f"{free_gib:.1f} GiB free at {anchor}.",
                **params,
            )
