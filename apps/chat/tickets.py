"""Chat tickets: how a page signed in with a browser session opens its chat socket.

The socket authenticates with bearer tokens (castcore.ws_auth), which a session
page does not have. The page gets a ticket instead: a signed, expiring value
that names the user and is good for the chat socket only (a different salt
from anything else Django signs), so the page never holds an API credential.
Sent as `?ticket=`, which the access log masks.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core import signing

_SALT = "castcore.chat.ticket"
TICKET_SECONDS = 12 * 3600


def ticket_for(user: Any) -> str:
    return signing.dumps({"u": user.pk}, salt=_SALT, compress=True)


def user_for_ticket(ticket: str) -> Any | None:
    """The active user `ticket` was made for, or None (bad, expired, user gone or disabled)."""
    try:
        data = signing.loads(ticket, salt=_SALT, max_age=TICKET_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    return get_user_model().objects.filter(pk=data["u"], is_active=True).first()
