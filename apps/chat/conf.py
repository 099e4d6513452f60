"""Environment settings of the chat app (read once, strictly, with castcore.env).

Per-stream switches (slow mode, signed-in only, closed while offline, bans by
address) are rows (ChatSettings), changed through the API; what is here holds
for every stream of the instance.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from apps.chat.ratelimit import Window as Rate
from castcore.env import env_int, env_list, env_str

# Longest message body accepted, in characters (after stripping invisible ones).
MAX_MESSAGE_LENGTH = env_int("CASTCORE_CHAT_MAX_LENGTH", 500, minimum=1)
# Longest display name, in characters.
MAX_NAME_LENGTH = 30
# Messages sent to a socket when it connects (the backlog).
BACKLOG_SIZE = env_int("CASTCORE_CHAT_BACKLOG", 50, minimum=0)
# Names nobody may take (compared case-insensitively, ignoring spaces): impersonation.
FORBIDDEN_NAMES = frozenset(
    name.casefold().replace(" ", "")
    for name in env_list(
        "CASTCORE_CHAT_FORBIDDEN_NAMES",
        ["admin", "administrator", "moderator", "mod", "system", "castcore", "owncast", "root"],
    )
)
# The name system messages are shown under.
SYSTEM_NAME = env_str("CASTCORE_CHAT_SYSTEM_NAME", "CastCore")


def _rate(name: str, default: str) -> Rate:
    raw = env_str(name, default)
    count, _, seconds = raw.partition("/")
    try:
        rate = Rate(int(count), int(seconds))
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be messages/seconds, such as 5/2: {raw!r}"
        ) from None
    if rate.count < 1 or rate.seconds < 1:
        raise ImproperlyConfigured(f"{name} must be at least 1/1: {raw!r}")
    return rate


# A sender (identity) and a client address each have a burst limit (short window)
# and a sustained one (long window). An address carries several people behind one
# NAT, so its limits are higher; it is what stops one client from cycling identities.
IDENTITY_BURST = _rate("CASTCORE_CHAT_BURST", "5/3")
IDENTITY_RATE = _rate("CASTCORE_CHAT_RATE", "30/60")
ADDRESS_BURST = _rate("CASTCORE_CHAT_ADDRESS_BURST", "15/3")
ADDRESS_RATE = _rate("CASTCORE_CHAT_ADDRESS_RATE", "90/60")
# Renames per identity, and per address (each is broadcast to every socket on its streams).
RENAME_RATE = _rate("CASTCORE_CHAT_RENAME_RATE", "3/60")
# Anonymous identities created per address per hour (POST …/chat/register).
REGISTER_RATE = env_str("CASTCORE_CHAT_REGISTER_RATE", "30/hour")
