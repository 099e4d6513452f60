from __future__ import annotations

import pytest

from apps.streams import conf
from workers.ffmpeg.tests.rtmp_server import rtmp_server_fixture  # noqa: F401


@pytest.fixture(autouse=True)
def _fast_runtime(
    monkeypatch: pytest.MonkeyPatch, settings: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Short heartbeats and leases keep process tests quick; runs write under a temp VAR_DIR.
    monkeypatch.setattr(conf, "HEARTBEAT_SECONDS", 0.3)
    monkeypatch.setattr(conf, "LEASE_SECONDS", 3.0)
    monkeypatch.setattr(conf, "STOP_GRACE_SECONDS", 3.0)
    settings.VAR_DIR = tmp_path_factory.mktemp("var")  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _tmp_roots(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Tests read and write under pytest's temp dirs: make those the allowed roots (and tell
    # worker processes they start). test_hardening_paths.py checks the real defaults.
    base = str(tmp_path_factory.getbasetemp())
    for name in ("OUTPUT_ROOTS", "INPUT_ROOTS"):
        monkeypatch.setattr(conf, name, (base,))
        monkeypatch.setenv(f"CASTCORE_{name}", base)
