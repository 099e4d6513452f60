"""Shared media for the media app's engine tests, generated once per session."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from workers.ffmpeg.testing import Library, make_library, make_video

# Test modules load the storage servers' fixtures with `pytest_plugins` and import its
# classes: registered before the first import, it is rewritten once (pytest warned
# "already imported so cannot be rewritten" when a later module asked for it).
pytest.register_assert_rewrite("apps.media.tests.storage_servers")


@pytest.fixture(scope="session")
def pristine_library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    """The generated library; read-only for tests (use `library` to modify)."""
    return make_library(tmp_path_factory.mktemp("pristine") / "library")


def _age_folders(root: Path, seconds: int = 3600) -> None:
    # Folders touched just now are "racy" and always re-listed; ageing them
    # lets a test observe the unchanged-folder fast path.
    past = time.time_ns() - seconds * 1_000_000_000
    for dirpath, _, _ in os.walk(root):
        os.utime(dirpath, ns=(past, past), follow_symlinks=False)


@pytest.fixture
def library(pristine_library: Library, tmp_path: Path) -> Library:
    """A private copy (symlinks kept as symlinks) with folders aged 1 hour."""
    root = tmp_path / "library"
    shutil.copytree(pristine_library.root, root, symlinks=True)
    _age_folders(root)
    return Library(
        root=root,
        outside=pristine_library.outside,
        valid=dict(pristine_library.valid),
        broken=dict(pristine_library.broken),
        ignored=set(pristine_library.ignored),
    )


@pytest.fixture(scope="session")
def mp4_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4", seconds=1.0)


@pytest.fixture(autouse=True)
def media_dirs(tmp_path: Path, settings: object, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MEDIA_ROOT (thumbnails, assets) and the mount base in this test's tmp dir."""
    from apps.media import conf

    root = tmp_path / "media-root"
    settings.MEDIA_ROOT = root  # type: ignore[attr-defined]
    monkeypatch.setattr(conf, "MOUNT_DIR", tmp_path / "mounts")
    return root
