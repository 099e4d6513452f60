"""ASGI entry point: HTTP through Django, WebSockets through Channels.

In the embedded mode this module also starts the in-process Celery worker,
so `daphne castcore.asgi:application` alone is a complete server.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "castcore.settings")
# A web process takes its PostgreSQL connections from a pool (DATABASES in settings).
# The default is for this process's settings only, not for the processes it starts.
_pool_chosen = "CASTCORE_DB_POOL" in os.environ
os.environ.setdefault("CASTCORE_DB_POOL", "true")
django_asgi_app = get_asgi_application()
if not _pool_chosen:
    del os.environ["CASTCORE_DB_POOL"]

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from castcore.bodies import BodyLimitMiddleware  # noqa: E402
from castcore.embedded import start_embedded_worker  # noqa: E402
from castcore.heap import freeze_startup_objects  # noqa: E402
from castcore.routing import websocket_urlpatterns  # noqa: E402
from castcore.ws_auth import AllowedOriginValidator, BearerAuthMiddleware  # noqa: E402

# Paths whose credential is in the URL itself (not a cookie or a browser
# session) cannot be hijacked cross-site, so they skip the Origin check: the
# asciinema CLI's producer socket sends no Origin header at all.
ORIGIN_EXEMPT_PREFIXES = ("/ws/S/",)

websocket_app = BearerAuthMiddleware(URLRouter(websocket_urlpatterns))
origin_checked_app = AllowedOriginValidator(websocket_app)


async def websocket(scope: dict[str, Any], receive: Any, send: Any) -> Any:
    if scope["path"].startswith(ORIGIN_EXEMPT_PREFIXES):
        return await websocket_app(scope, receive, send)
    return await origin_checked_app(scope, receive, send)


# Bodies over their route's limit are refused before Django reads them (castcore/bodies.py).
application = ProtocolTypeRouter(
    {"http": BodyLimitMiddleware(django_asgi_app), "websocket": websocket}
)

start_embedded_worker()
freeze_startup_objects()
