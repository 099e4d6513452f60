"""`{% chat_panel stream %}`: the chat panel of a live stream's watch page."""

from __future__ import annotations

from typing import Any

from django import template

from apps.chat import conf, selectors
from apps.chat.tickets import ticket_for

register = template.Library()


@register.inclusion_tag("chat/panel.html", takes_context=True)
def chat_panel(context: template.Context, stream: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    return {
        "stream": stream,
        "ticket": ticket_for(user) if signed_in else "",
        "signed_in": signed_in,
        "max_length": conf.MAX_MESSAGE_LENGTH,
        "max_name_length": conf.MAX_NAME_LENGTH,
        "moderator": signed_in and selectors.may_moderate(user, stream),
        # A private stream's watch link shows the video, not the chat: that is its members'.
        "readable": selectors.may_read(user if signed_in else None, stream),
    }
