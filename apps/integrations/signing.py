"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

    webhook-id:        msg_… (the same for every attempt of one event)
    webhook-timestamp: Unix seconds of this attempt
    webhook-signature: v1,<base64 HMAC-SHA256 over "id.timestamp.body">

The secret is `whsec_` followed by the base64 of 24 to 64 random bytes; the HMAC
key is those bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The key bytes of a `whsec_…` secret; ValueError if it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("must start with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be whsec_ followed by base64") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ValueError(f"the key must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes")
    return key


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str, headers: dict[str, str], body: bytes, *, now: int, tolerance: int = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is within `tolerance`."""
    try:
        timestamp = int(headers["webhook-timestamp"])
        expected = signature(secret, headers["webhook-id"], timestamp, body)
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    given = headers.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, candidate) for candidate in given)
