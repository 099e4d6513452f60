"""The real asciinema 2.2 CLI (Debian's package) against a live CastCore: rec, upload, auth."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.recordings.models import Recording
from apps.recordings.tests.asgi_server import AsgiServer
from apps.recordings.tests.factories import a_user

ASCIINEMA = shutil.which("asciinema") or "/usr/bin/asciinema"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not Path(ASCIINEMA).exists(), reason="the asciinema package is not installed"
    ),
]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ASCIINEMA, *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def env_for(server_url: str, home: Path) -> dict[str, str]:
    config = home / "config"
    config.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "USER": "tester",
        "LANG": "C.UTF-8",
        "ASCIINEMA_API_URL": server_url,
        "ASCIINEMA_CONFIG_HOME": str(config),
    }


@pytest.fixture
def cli_env(tmp_path: Path, live_server: Any) -> dict[str, str]:
    return env_for(live_server.url, tmp_path)


def test_rec_upload_then_auth_and_claim(
    cli_env: dict[str, str], tmp_path: Path, live_server: Any
) -> None:
    cast = tmp_path / "demo.cast"
    recorded = run(["rec", "-q", "-c", "echo hi", str(cast)], cli_env, tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    assert '"version": 2' in cast.read_text()

    uploaded = run(["upload", str(cast)], cli_env, tmp_path)

    assert uploaded.returncode == 0, uploaded.stderr + uploaded.stdout
    recording = Recording.objects.get()
    printed = uploaded.stdout + uploaded.stderr  # 2.2 prints the server's message on stderr
    assert f"{live_server.url}/r/{recording.url_token}" in printed
    assert recording.owner.is_temporary and recording.cols and recording.duration >= 0
    install_id = (Path(cli_env["ASCIINEMA_CONFIG_HOME"]) / "install-id").read_text().strip()
    assert install_id not in printed

    authed = run(["auth"], cli_env, tmp_path)
    assert authed.returncode == 0, authed.stderr
    match = re.search(re.escape(live_server.url) + r"(/connect/\S+)", authed.stdout + authed.stderr)
    assert match and match[1] == f"/connect/{install_id}"

    user = a_user()
    browser = Client()
    browser.force_login(user)
    assert browser.post(match[1]).status_code == 200

    recording.refresh_from_db()
    assert recording.owner == user and not User.objects.filter(is_temporary=True).exists()
    again = run(["upload", str(cast)], cli_env, tmp_path)
    assert again.returncode == 0 and "not linked" not in again.stdout + again.stderr
    assert Recording.objects.filter(owner=user).count() == 2


def test_garbage_upload_shows_the_servers_422(cli_env: dict[str, str], tmp_path: Path) -> None:
    junk = tmp_path / "junk.cast"
    junk.write_text("this is not an asciicast\n")
    result = run(["upload", str(junk)], cli_env, tmp_path)
    assert result.returncode != 0
    assert "Invalid asciicast" in result.stdout + result.stderr
    assert not Recording.objects.exists()


def test_upload_through_daphne_the_production_asgi_server(
    asgi_server: AsgiServer, tmp_path: Path, media_root: Path
) -> None:
    env = env_for(asgi_server.url, tmp_path)
    cast = tmp_path / "demo.cast"
    assert run(["rec", "-q", "-c", "echo via-daphne", str(cast)], env, tmp_path).returncode == 0

    uploaded = run(["upload", str(cast)], env, tmp_path)

    assert uploaded.returncode == 0, uploaded.stderr + uploaded.stdout
    recording = Recording.objects.get()
    assert f"{asgi_server.url}/r/{recording.url_token}" in uploaded.stdout + uploaded.stderr
    assert "via-daphne" in (media_root / recording.file.name).read_text()
    assert recording.owner.is_temporary and recording.cols
    install_id = (Path(env["ASCIINEMA_CONFIG_HOME"]) / "install-id").read_text().strip()
    assert install_id not in asgi_server.log()
    assert '"POST /api/asciicasts" 201' in asgi_server.log()
