from __future__ import annotations

from typing import Any

from apps.streams.live.models import LiveStream
from apps.streams.live.services import live_stream_create
from apps.streams.tests.factories import ProfileFactory

_count = 0


def live_stream(owner: Any, **fields: Any) -> tuple[LiveStream, str]:
    """A live stream (and its job) made by the service, as the API makes it: (stream, key)."""
    global _count
    _count += 1
    fields.setdefault("name", f"Live {_count}")
    fields.setdefault("slug", f"live-{_count}")
    fields.setdefault("profile", ProfileFactory())
    return live_stream_create(actor=owner, **fields)
