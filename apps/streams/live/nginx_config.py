"""The nginx-rtmp configuration CastCore runs its ingest with: Django-free, typed, one renderer.

`render(RtmpConfig(...))` is the whole nginx.conf: an rtmp block whose one application
accepts publishes only through CastCore's on_publish callback (which redirects an
accepted publish to the stream's internal name), lets only the listed addresses play
(the jobs' pulls), and drops idle publishers; and a loopback HTTP server with
nginx-rtmp's statistics and control, which CastCore reads and uses to drop a publisher.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_APP_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HOST = re.compile(r"^[A-Za-z0-9_.:\[\]-]{1,255}$")


class ConfigError(ValueError):
    """A value that would make a broken (or injected) nginx.conf."""


@dataclass(frozen=True)
class RtmpConfig:
    prefix: str  # nginx's -p folder: its pid, logs and temp files live here
    rtmp_bind: str
    rtmp_port: int
    control_bind: str
    control_port: int
    app: str
    callback_url: str  # CastCore's base URL as nginx reaches it
    callback_secret: str
    play_allow: tuple[str, ...]
    play_deny: tuple[str, ...] = ()  # checked first: e.g. docker's gateway, which NATs outsiders
    idle_publisher_seconds: int = 10
    module_path: str | None = None  # load_module line; None where nginx has it built in
    foreground: bool = True  # `daemon off`: a supervisor (or docker) owns the process
    single_process: bool = False  # no workers: the supervisor owns exactly one process
    user: str | None = None

    def check(self) -> None:
        if not _APP_NAME.match(self.app):
            raise ConfigError(f"application name {self.app!r}")
        for host in (self.rtmp_bind, self.control_bind):
            if not _HOST.match(host):
                raise ConfigError(f"bind address {host!r}")
        for port in (self.rtmp_port, self.control_port):
            if not 0 < port < 65536:
                raise ConfigError(f"port {port}")
        for network in (*self.play_allow, *self.play_deny):
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ConfigError(f"play address {network!r}") from None
        for value in (self.prefix, self.callback_url, self.callback_secret, self.module_path or ""):
            if any(ch in value for ch in ";{}#$\"'\\\n\r\t "):
                raise ConfigError("a path, URL or secret holds nginx syntax or spaces")
        if not self.callback_url.startswith(("http://", "https://")):
            raise ConfigError("callback URL must be http(s)")


def _listen(bind: str, port: int) -> str:
    return f"[{bind.strip('[]')}]:{port}" if ":" in bind.strip("[]") else f"{bind}:{port}"


def render(config: RtmpConfig) -> str:
    """nginx.conf for `config` (checked first: ConfigError for a value nginx would misread)."""
    config.check()
    prefix = config.prefix.rstrip("/")
    base = config.callback_url.rstrip("/")
    token = config.callback_secret
    lines = []
    if config.module_path:
        lines.append(f"load_module {config.module_path};")
    if config.user:
        lines.append(f"user {config.user};")
    if config.foreground:
        lines.append("daemon off;")
    if config.single_process:
        lines.append("master_process off;")
    lines += [
        # One worker: nginx-rtmp's live streams live in one process (no auto-push needed).
        "worker_processes 1;",
        f"pid {prefix}/nginx.pid;",
        f"error_log {prefix}/error.log notice;",
        "events { worker_connections 1024; }",
        "",
        "rtmp {",
        "    server {",
        f"        listen {_listen(config.rtmp_bind, config.rtmp_port)};",
        "        chunk_size 4096;",
        # Callbacks as form POSTs: the key travels in the body, never in a logged URL.
        "        notify_method post;",
        f"        drop_idle_publisher {config.idle_publisher_seconds}s;",
        f"        application {config.app} {{",
        "            live on;",
        "            record off;",
        # No relaying of a publish elsewhere by a callback's answer.
        "            notify_relay_redirect off;",
        "            allow publish all;",
        *(f"            deny play {network};" for network in config.play_deny),
        *(f"            allow play {network};" for network in config.play_allow),
        "            deny play all;",
        # The secret rides as `token`, which CastCore's access log masks.
        f"            on_publish {base}/internal/nginx-rtmp/on_publish?token={token};",
        f"            on_publish_done {base}/internal/nginx-rtmp/on_publish_done?token={token};",
        "        }",
        "    }",
        "}",
        "",
        "http {",
        "    access_log off;",
        f"    client_body_temp_path {prefix}/client_body;",
        f"    proxy_temp_path {prefix}/proxy;",
        f"    fastcgi_temp_path {prefix}/fastcgi;",
        f"    uwsgi_temp_path {prefix}/uwsgi;",
        f"    scgi_temp_path {prefix}/scgi;",
        "    server {",
        f"        listen {_listen(config.control_bind, config.control_port)};",
        # Statistics and control for CastCore only: the addresses that may play.
        *(f"        deny {network};" for network in config.play_deny),
        *(f"        allow {network};" for network in config.play_allow),
        "        deny all;",
        "        location /stat { rtmp_stat all; }",
        "        location /control { rtmp_control all; }",
        "        location / { return 404; }",
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)
