"""The chat's reaction to a live stream's visibility changing (whoever saved it).

A receiver rather than a call in the streams app's service: every path that saves a
stream (its API, the admin, a script) turns a stream private, and each must close
the chat sockets that may no longer read it.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_init, post_save

from apps.chat import events, selectors
from apps.streams.models import LiveStream

_LOADED = "_chat_visibility_loaded"


def _remember_visibility(sender: Any, instance: LiveStream, **kwargs: Any) -> None:
    # Only when loaded: reading a deferred field here would cost a query per stream.
    instance.__dict__[_LOADED] = instance.__dict__.get("visibility")


def _visibility_saved(
    sender: Any, instance: LiveStream, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    if created or (update_fields is not None and "visibility" not in update_fields):
        return
    before = instance.__dict__.get(_LOADED)
    instance.__dict__[_LOADED] = instance.visibility
    if before == instance.visibility:
        return
    stream_id = instance.pk
    selectors.forget_send_rules(stream_id)
    # Published after commit (castcore.events.publish): a socket that looked before it
    # would read the old visibility.
    events.publish_revisit(stream_id)


def connect() -> None:
    post_init.connect(_remember_visibility, sender=LiveStream, dispatch_uid="chat-visibility-init")
    post_save.connect(_visibility_saved, sender=LiveStream, dispatch_uid="chat-visibility-saved")
