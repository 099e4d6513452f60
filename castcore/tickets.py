"""Signed passes in URLs: one place for how CastCore signs and checks them.

A ticket names one row (`subject`, its id) for one purpose (`salt`): a ticket
made for a terminal stream's viewer socket opens no live stream's HLS, and the
other way round. It is signed with SECRET_KEY (django.core.signing), so it
needs no table and cannot be forged or moved to another row. A ticket expires
`max_age` seconds after it was made (checked when it comes back); one made with
its own `expires_at` expires then, whichever comes first.
"""

from __future__ import annotations

import time

from django.core import signing


def make_ticket(*, salt: str, subject: int, expires_at: float | None = None) -> str:
    """A URL-safe signed pass for row `subject`; `expires_at` is a Unix time."""
    payload: dict[str, int] = {"s": subject}
    if expires_at is not None:
        payload["e"] = int(expires_at)
    return signing.dumps(payload, salt=salt)


def check_ticket(raw: str, *, salt: str, subject: int, max_age: int) -> bool:
    """True when `raw` is a ticket of `salt` for `subject`, made less than `max_age` ago
    and not past its own expiry."""
    if not raw or len(raw) > 512:  # a ticket is ~60 characters; don't verify a novel
        return False
    try:
        data = signing.loads(raw, salt=salt, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is one too
        return False
    if not isinstance(data, dict) or data.get("s") != subject:
        return False
    expires = data.get("e")
    return expires is None or (isinstance(expires, int) and time.time() < expires)
