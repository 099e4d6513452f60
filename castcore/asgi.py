"""ASGI entry point: HTTP through Django, WebSockets through Channels.

In the embedded mode this module also starts the in-process Celery worker,
so `daphne castcore.asgi:application` alone is a complete server.
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

import django
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "castcore.settings")
# A web process takes its PostgreSQL connections from a pool (DATABASES in settings).
# The default is for this process's settings only, not for the processes it starts.
_pool_chosen = "CASTCORE_DB_POOL" in os.environ
os.environ.setdefault("CASTCORE_DB_POOL", "true")


class SpoolingASGIHandler(ASGIHandler):
    """Django's ASGI handler, whose body spool is under FILE_UPLOAD_TEMP_DIR.

    Django spools each body past FILE_UPLOAD_MAX_MEMORY_SIZE to a file in the system's
    temp folder whatever FILE_UPLOAD_TEMP_DIR says, and /tmp is RAM where it is a tmpfs.
    """

    async def read_body(self, receive: Any) -> Any:
        body_file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (the request closes it)
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
            mode="w+b",
            dir=settings.FILE_UPLOAD_TEMP_DIR,
        )
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise RequestAborted()  # the client went before its body ended
                body_file.write(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except BaseException:
            body_file.close()
            raise
        body_file.seek(0)
        return body_file


# As django.core.asgi.get_asgi_application(), with the handler above.
django.setup(set_prefix=False)
django_asgi_app = SpoolingASGIHandler()
if not _pool_chosen:
    del os.environ["CASTCORE_DB_POOL"]

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.streams.live.nginx import start_embedded_nginx  # noqa: E402
from castcore.bodies import BodyLimitMiddleware  # noqa: E402
from castcore.embedded import start_embedded_worker  # noqa: E402
from castcore.heap import freeze_startup_objects  # noqa: E402
from castcore.routing import websocket_urlpatterns  # noqa: E402
from castcore.ws_auth import AllowedOriginValidator, BearerAuthMiddleware  # noqa: E402

# Paths whose credential is in the URL itself (not a cookie or a browser
# session) cannot be hijacked cross-site, so they skip the Origin check: the
# asciinema CLI's producer socket sends no Origin header at all.
ORIGIN_EXEMPT_PREFIXES = ("/ws/S/",)
# Owncast's chat socket (apps/owncast/routing.py) too: its credential is `?accessToken=`,
# it reads no other (apps.owncast.consumers), and Owncast's bots send any Origin or none.
ORIGIN_EXEMPT_PATHS = re.compile(r"/(?:owncast/[-a-zA-Z0-9_]{1,80}/)?ws")

websocket_app = BearerAuthMiddleware(URLRouter(websocket_urlpatterns))
origin_checked_app = AllowedOriginValidator(websocket_app)


async def websocket(scope: dict[str, Any], receive: Any, send: Any) -> Any:
    path = scope["path"]
    if path.startswith(ORIGIN_EXEMPT_PREFIXES) or ORIGIN_EXEMPT_PATHS.fullmatch(path):
        return await websocket_app(scope, receive, send)
    return await origin_checked_app(scope, receive, send)


# Bodies over their route's limit are refused before Django reads them (castcore/bodies.py).
application = ProtocolTypeRouter(
    {"http": BodyLimitMiddleware(django_asgi_app), "websocket": websocket}
)

start_embedded_worker()
start_embedded_nginx()
freeze_startup_objects()
