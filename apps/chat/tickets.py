"""Chat tickets: how a page signed in with a browser session opens its chat socket.

The socket authenticates with bearer tokens (castcore.ws_auth), which a session
page does not have. The page gets a ticket instead (castcore.tickets: signed,
expiring, for this purpose only), so it never holds an API credential. Sent as
`?ticket=<user id>.<signed pass>`, which the access log masks.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from castcore.api.filters import parse_id
from castcore.tickets import check_ticket, make_ticket

_SALT = "castcore.chat.socket"
TICKET_SECONDS = 12 * 3600


def ticket_for(user: Any) -> str:
    return f"{user.pk}.{make_ticket(salt=_SALT, subject=user.pk)}"


def user_for_ticket(ticket: str) -> Any | None:
    """The active user `ticket` was made for, or None (bad, expired, user gone or disabled)."""
    raw_id, _, signed = ticket.partition(".")
    user_id = parse_id(raw_id)
    if user_id is None or not check_ticket(
        signed, salt=_SALT, subject=user_id, max_age=TICKET_SECONDS
    ):
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()
