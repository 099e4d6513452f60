"""Environment settings of live ingest (nginx-rtmp, SRT, sessions), parsed strictly.

Read at import; tests monkeypatch these attributes. The README's "Live ingest"
table documents each one. Other apps read live state through selectors.py and
nginx.py's public functions, not this module.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from castcore.env import env_bool, env_float, env_int, env_list, env_str

# The nginx-rtmp application publishers send to: rtmp://<host>:<port>/<app>/<key>.
RTMP_APP = env_str("CASTCORE_RTMP_APP", "live")
# Where nginx-rtmp listens for publishers, and the address it binds.
RTMP_PORT = env_int("CASTCORE_RTMP_PORT", 1935, minimum=1)
# Publishers connect from other machines (OBS on a laptop): every interface by default.
RTMP_BIND = env_str("CASTCORE_RTMP_BIND", "0.0.0.0")  # noqa: S104
# Where a live stream's job pulls the accepted publish from: nginx-rtmp as the workers
# reach it (loopback in the embedded mode; the service's name in docker-compose).
RTMP_INTERNAL_HOST = env_str("CASTCORE_RTMP_INTERNAL_HOST", "127.0.0.1")
# nginx's HTTP port for its statistics (inbound codec, size, bitrate) and control (drop a
# publisher): never public; reached at RTMP_INTERNAL_HOST.
RTMP_CONTROL_PORT = env_int("CASTCORE_RTMP_CONTROL_PORT", 8936, minimum=1)
RTMP_CONTROL_BIND = env_str("CASTCORE_RTMP_CONTROL_BIND", "127.0.0.1")
# Addresses allowed to play from nginx-rtmp (the jobs' pulls); every other player is
# refused. Comma-separated addresses or networks, as nginx's `allow` takes them.
RTMP_PLAY_ALLOW = tuple(env_list("CASTCORE_RTMP_PLAY_ALLOW", ["127.0.0.1"]))
# Refused before those (docker's gateway address, which outsiders' connections come from
# through a published port).
RTMP_PLAY_DENY = tuple(env_list("CASTCORE_RTMP_PLAY_DENY", []))
# The ingest URLs shown to publishers (without the key): the host and ports they use.
INGEST_PUBLIC_HOST = env_str("CASTCORE_INGEST_PUBLIC_HOST", "localhost")
# Where nginx-rtmp sends its on_publish/on_publish_done callbacks: this CastCore's base URL
# as nginx reaches it.
CALLBACK_BASE_URL = env_str("CASTCORE_RTMP_CALLBACK_URL", "http://127.0.0.1:8000").rstrip("/")
# A publisher that drops and returns within this long continues the same session.
GRACE_SECONDS = env_float("CASTCORE_LIVE_GRACE_SECONDS", 10.0, minimum=0.0)
# Seconds nginx-rtmp keeps a publisher that sends nothing (drop_idle_publisher).
IDLE_PUBLISHER_SECONDS = env_int("CASTCORE_RTMP_IDLE_PUBLISHER_SECONDS", 10, minimum=1)
# The embedded mode starts and supervises nginx itself when it is installed (off: never).
EMBEDDED_NGINX = env_bool("CASTCORE_EMBEDDED_NGINX", True)
NGINX_BINARY = env_str("CASTCORE_NGINX_BINARY", "/usr/sbin/nginx")
NGINX_RTMP_MODULE = env_str(
    "CASTCORE_NGINX_RTMP_MODULE", "/usr/lib/nginx/modules/ngx_rtmp_module.so"
)
# SRT listener ports, one per SRT-enabled stream: "first-last".
_SRT_PORTS = env_str("CASTCORE_SRT_PORTS", "10080-10179")
# The secret nginx sends with each callback; unset: derived from SECRET_KEY.
_CALLBACK_SECRET = env_str("CASTCORE_RTMP_CALLBACK_SECRET", "")


def _port_range(text: str) -> tuple[int, int]:
    try:
        first, last = (int(part) for part in text.split("-", 1))
    except ValueError:
        raise ImproperlyConfigured(f"CASTCORE_SRT_PORTS={text!r} is not first-last.") from None
    if not 1 <= first <= last <= 65535:
        raise ImproperlyConfigured(f"CASTCORE_SRT_PORTS={text!r} is not a port range.")
    return first, last


SRT_PORTS = _port_range(_SRT_PORTS)


def callback_secret() -> str:
    """The shared secret of nginx's callbacks: configured, or derived so none is needed."""
    if _CALLBACK_SECRET:
        return _CALLBACK_SECRET
    return hmac.new(
        settings.SECRET_KEY.encode(), b"castcore.nginx-rtmp.callback", hashlib.sha256
    ).hexdigest()
