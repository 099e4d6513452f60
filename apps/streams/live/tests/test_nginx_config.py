"""The rendered nginx-rtmp configuration: nginx itself accepts it, and nothing can be injected."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.streams.live import conf
from apps.streams.live.nginx import config_from_settings, nginx_rtmp_installed
from apps.streams.live.nginx_config import ConfigError, render

needs_nginx = pytest.mark.skipif(
    not nginx_rtmp_installed(), reason="nginx with the rtmp module is not installed"
)


def nginx_test(config_path: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [conf.NGINX_BINARY, "-t", "-p", str(prefix), "-e", str(prefix / "error.log"),
         "-c", str(config_path)],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip


@needs_nginx
@pytest.mark.parametrize("embedded", [True, False])
def test_nginx_accepts_the_rendered_configuration(tmp_path: Path, embedded: bool) -> None:
    config = config_from_settings(prefix=tmp_path, embedded=embedded)
    path = tmp_path / "nginx.conf"
    path.write_text(render(config))
    result = nginx_test(path, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


@needs_nginx
def test_the_command_writes_a_file_only_its_owner_reads(tmp_path: Path) -> None:
    path = tmp_path / "rtmp.conf"
    call_command("render_nginx_rtmp", "--output", str(path), "--prefix", str(tmp_path))
    assert os.stat(path).st_mode & 0o777 == 0o600
    text = path.read_text()
    assert "on_publish http://" in text and "deny play all;" in text and "daemon off;" in text
    assert conf.callback_secret() in text  # nginx must send it: the file is the one place
    assert nginx_test(path, tmp_path).returncode == 0


@pytest.mark.parametrize(
    "change",
    [
        {"app": "live; rtmp_auto_push on"},
        {"callback_url": "http://x/ ; include /etc/passwd"},
        {"callback_secret": "a}b"},
        {"play_allow": ("all",)},
        {"rtmp_bind": "0.0.0.0;"},
        {"prefix": "/tmp/a b"},
        {"rtmp_port": 70000},
    ],
)
def test_a_value_that_would_inject_nginx_syntax_is_refused(
    tmp_path: Path, change: dict[str, object]
) -> None:
    config = dataclasses.replace(config_from_settings(prefix=tmp_path, embedded=True), **change)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        render(config)


def test_only_loopback_plays_and_publishes_go_through_the_callbacks(tmp_path: Path) -> None:
    text = render(config_from_settings(prefix=tmp_path, embedded=True))
    rtmp = text[text.index("rtmp {") : text.index("http {")]
    assert "allow play 127.0.0.1;" in rtmp and "deny play all;" in rtmp
    assert "notify_method post;" in rtmp and "drop_idle_publisher" in rtmp
    assert "/internal/nginx-rtmp/on_publish?token=" in rtmp
    assert "master_process off;" in text  # the supervisor owns exactly one process


@needs_nginx
def test_the_docker_compose_configuration_denies_the_gateway_first(tmp_path: Path) -> None:
    # As docker-compose.yml sets it: the compose network plays, its gateway (outsiders
    # NATed through a published port) does not, for RTMP play and for stat/control.
    config = dataclasses.replace(
        config_from_settings(prefix=tmp_path, embedded=False),
        play_allow=("172.28.0.0/16",),
        play_deny=("172.28.0.1",),
        control_bind="0.0.0.0",  # noqa: S104 (the compose network's workers reach it)
    )
    text = render(config)
    assert text.index("deny play 172.28.0.1;") < text.index("allow play 172.28.0.0/16;")
    assert text.index("deny 172.28.0.1;") < text.index("allow 172.28.0.0/16;")
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    assert nginx_test(path, tmp_path).returncode == 0
