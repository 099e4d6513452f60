"""Where a job may read and write, and which hosts it may reach.

The spec types check shape (an absolute path, an rtmp:// URL); this module
checks place. The app builds a TargetPolicy from its settings and applies it
to the values a user chose (file inputs, outputs); paths the app makes itself
(run workdirs, recordings, dry-run files) do not go through it.

Paths are resolved (symlinks, `..`) before they are compared, and the resolved
path is what the spec then holds, so ffmpeg opens what was checked.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from workers.ffmpeg.addresses import (
    DEFAULT_POLICY,
    LINK_LOCAL,
    AddressPolicy,
    refusal,
    refused_address,
)
from workers.ffmpeg.checks import PATH_NOT_ALLOWED, SpecError, check_abs_path
from workers.ffmpeg.spec import (
    FileInput,
    FileOutput,
    HlsLadderOutput,
    HlsOutput,
    InputSpec,
    OutputSpec,
    RtmpOutput,
    SrtOutput,
    UdpOutput,
    UrlInput,
)

ADDRESS_NOT_ALLOWED = "stream_job.address_not_allowed"

# Never read or written, whatever the configured roots say (a root of `/` included).
SYSTEM_PROTECTED = (
    "/proc", "/sys", "/dev", "/boot", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
    "/usr", "/var/lib", "/var/spool", "/var/run", "/run",
)  # fmt: skip
# Directories that hold credentials, wherever they are.
CREDENTIAL_DIRS = frozenset({".ssh", ".gnupg", ".aws", ".kube", ".docker", ".git", ".config"})


@dataclass(frozen=True)
class TargetPolicy:
    """Allowed roots (absolute paths), paths never touched, and the address policy.

    `managed`: (name, path) of what CastCore manages itself (assets, recordings, the
    database, keys…; castcore.managed), never an output whatever the roots say.
    """

    output_roots: tuple[str, ...] = ()
    input_roots: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    managed: tuple[tuple[str, str], ...] = ()
    addresses: AddressPolicy = DEFAULT_POLICY


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _refuse(field: str, reason: str, **params: object) -> SpecError:
    return SpecError(PATH_NOT_ALLOWED, field=field, reason=reason, **params)


def allowed_path(
    path: str,
    *,
    roots: Iterable[str],
    protected: Iterable[str],
    field: str,
    write: bool,
    managed: Iterable[tuple[str, str]] = (),
) -> str:
    """The resolved `path` if it lies under one of `roots` and outside `protected`.

    For writes, no component below the root may be hidden (`.bashrc`, `.git/hooks`):
    dot files are where configuration and credentials live; nor may it be in a
    `managed` folder (reason `managed`, naming the folder).
    """
    check_abs_path(field, path)
    roots = tuple(roots)
    resolved = os.path.realpath(path)
    if write:
        for name, item in managed:
            if _within(resolved, os.path.realpath(item)):
                raise _refuse(field, "managed", managed=name)
    if any(part in CREDENTIAL_DIRS for part in PurePosixPath(resolved).parts):
        raise _refuse(field, "protected")
    for item in (*SYSTEM_PROTECTED, *protected):
        if _within(resolved, os.path.realpath(item)):
            raise _refuse(field, "protected")
    for root in roots:
        real_root = os.path.realpath(root)
        if not os.path.isabs(root) or not _within(resolved, real_root):
            continue
        below = PurePosixPath(resolved).relative_to(real_root).parts
        if write and any(part.startswith(".") for part in below):
            raise _refuse(field, "hidden")
        return resolved
    # What the client may choose instead: the roots as they resolve on this host.
    raise _refuse(field, "outside_roots", allowed_roots=[os.path.realpath(r) for r in roots])


def check_host(url: str, *, field: str, policy: TargetPolicy) -> None:
    """Refuse a URL whose host is, or resolves to, an address the address policy refuses;
    `reason` is "link_local" (and cloud metadata) or "private"."""
    try:
        host = urllib.parse.urlsplit(url).hostname
    except ValueError:
        return  # the spec type refuses the URL itself
    refused = refused_address(host, policy.addresses) if host else None
    if refused is not None:
        reason = refusal(refused, policy.addresses) or LINK_LOCAL  # a metadata name
        raise SpecError(ADDRESS_NOT_ALLOWED, field=field, host=host, reason=reason)


def checked_output(output: OutputSpec, policy: TargetPolicy) -> OutputSpec:
    """`output` if the policy allows it, with its path resolved; SpecError otherwise."""
    if isinstance(output, RtmpOutput | SrtOutput | UdpOutput):
        check_host(output.url, field="output.url", policy=policy)
        return output
    if isinstance(output, HlsOutput):
        directory = allowed_path(
            output.directory, roots=policy.output_roots, protected=policy.protected,
            field="output.directory", write=True, managed=policy.managed,
        )  # fmt: skip
        return dataclasses.replace(output, directory=directory)
    if isinstance(output, HlsLadderOutput):
        # A live stream's folder, chosen by CastCore (apps.streams.live.paths), never by a
        # user; it is managed, so the checks above would refuse it to any user's output.
        return output
    assert isinstance(output, FileOutput)
    path = allowed_path(
        output.path, roots=policy.output_roots, protected=policy.protected, field="output.path",
        write=True, managed=policy.managed,
    )  # fmt: skip
    return dataclasses.replace(output, path=path)


def checked_input(source: InputSpec, policy: TargetPolicy) -> InputSpec:
    """A file input under the input roots, a URL input not aimed at a refused host."""
    if isinstance(source, FileInput):
        path = allowed_path(
            source.path, roots=policy.input_roots, protected=policy.protected,
            field="input.path", write=False,
        )  # fmt: skip
        return dataclasses.replace(source, path=path)
    if isinstance(source, UrlInput):
        check_host(source.url, field="input.url", policy=policy)
    return source
