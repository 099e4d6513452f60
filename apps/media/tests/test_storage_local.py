"""LocalBackend against a real directory tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from apps.media.storage.base import LocalConfig, StorageError
from apps.media.storage.local import LocalBackend


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    (root / "shows" / "s1").mkdir(parents=True)
    (root / "a.mp4").write_bytes(b"a" * 10)
    (root / "shows" / "s1" / "e1.mkv").write_bytes(b"e" * 20)
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the root")
    (root / "leak.mp4").symlink_to(outside)
    (root / "alias.mp4").symlink_to(root / "a.mp4")
    (root / "loop").symlink_to(root)
    os.mkfifo(root / "pipe")
    return root


def test_it_lists_files_and_skips_links_leaving_the_root(tree: Path) -> None:
    entries = list(LocalBackend(LocalConfig(str(tree))).iter_files())
    assert [(e.relpath, e.size) for e in entries] == [
        ("a.mp4", 10),
        ("alias.mp4", 10),
        ("shows/s1/e1.mkv", 20),
    ]
    assert entries[0].mtime_ns == (tree / "a.mp4").stat().st_mtime_ns


def test_it_lists_under_a_prefix(tree: Path) -> None:
    entries = list(LocalBackend(LocalConfig(str(tree))).iter_files("shows"))
    assert [e.relpath for e in entries] == ["shows/s1/e1.mkv"]


def test_it_passes_all_checks(tree: Path) -> None:
    results = LocalBackend(LocalConfig(str(tree))).test()
    assert [(r.name, r.ok) for r in results] == [
        ("reachable", True),
        ("credentials", True),
        ("listable", True),
        ("readable", True),
    ]


def test_missing_path_is_not_found(tmp_path: Path) -> None:
    results = LocalBackend(LocalConfig(str(tmp_path / "nope"))).test()
    assert (results[0].ok, results[0].code) == (False, "storage.not_found")
    assert all(r.skipped for r in results[1:])


def test_a_file_is_not_listable(tree: Path) -> None:
    results = LocalBackend(LocalConfig(str(tree / "a.mp4"))).test()
    assert results[0].code == "storage.not_listable"


def test_open_for_ffmpeg_gives_an_absolute_path(tree: Path) -> None:
    location = LocalBackend(LocalConfig(str(tree))).open_for_ffmpeg("shows/s1/e1.mkv")
    assert location.url_or_path == str((tree / "shows/s1/e1.mkv").resolve())
    assert location.protocol_whitelist == "file"


@pytest.mark.parametrize("relpath", ["leak.mp4", "../secret.txt", "missing.mp4"])
def test_open_for_ffmpeg_refuses_paths_outside_or_missing(tree: Path, relpath: str) -> None:
    with pytest.raises(StorageError) as info:
        LocalBackend(LocalConfig(str(tree))).open_for_ffmpeg(relpath)
    assert info.value.code in {"storage.not_found", "storage.invalid_config"}


def test_relative_path_is_rejected() -> None:
    with pytest.raises(StorageError):
        LocalBackend(LocalConfig("relative/dir"))


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to run the check as an unprivileged user",
)
def test_unreadable_dir_is_permission_denied_for_an_unprivileged_user() -> None:
    # Root bypasses mode bits, so the check runs in a child process as 'nobody';
    # pytest's tmp dirs are 0700, hence a world-searchable dir of our own.
    base = Path(tempfile.mkdtemp(prefix="cc-local-"))
    base.chmod(0o755)
    locked = base / "locked"
    locked.mkdir(mode=0o700)
    (locked / "x.mp4").write_bytes(b"x")
    code = (
        "import json; from apps.media.storage.local import LocalBackend;"
        "from apps.media.storage.base import LocalConfig;"
        f"r = LocalBackend(LocalConfig({str(locked)!r})).test();"
        "print(json.dumps([[c.name, c.ok, c.code] for c in r]))"
    )
    try:
        proc = subprocess.run(
            [
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                sys.executable,
                "-c",
                code,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=Path(__file__).resolve().parents[3],
        )
    finally:
        shutil.rmtree(base)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert results[0] == ["reachable", True, None]
    assert results[2] == ["listable", False, "storage.permission_denied"]
