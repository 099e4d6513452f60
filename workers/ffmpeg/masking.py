"""Secrets shown masked: in argv elements, in log lines and in URLs shown to users.

`mask_url` is the one masked form of a URL: the API shows it, the audit log
stores it, and a client that sends it back unchanged means "keep the stored URL"
(apps.streams.services.jobs), as `••••`-prefixed keys do for SecretField.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence

from workers.ffmpeg.escaping import tee_escape
from workers.ffmpeg.urls import (
    is_secret_query_key,
    rtmp_path_key,
    split_query,
    url_secrets,
    url_userinfo,
)

SECRET_MASK = "••••"  # noqa: S105 (the mask shown instead of a secret, not a secret)


def mask_secret(secret: str) -> str:
    """`••••` plus the last 4 characters, or nothing of a secret too short to hint at.

    A value already masked stays as it is, so masking a shown URL again changes nothing.
    """
    if SECRET_MASK in secret:
        return secret
    return SECRET_MASK + (secret[-4:] if len(secret) >= 12 else "")


def secret_variants(secret: str) -> list[str]:
    """Every spelling a secret can take inside an argv element, longest first."""
    variants = {
        secret,
        tee_escape(secret),
        tee_escape(tee_escape(secret)),
        urllib.parse.quote(secret, safe=""),
    }
    return sorted(variants, key=len, reverse=True)


def mask_text(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        masked = mask_secret(secret)
        for variant in secret_variants(secret):
            # Loop: a shown tail plus the following text can spell the secret again
            # ("abcdabcdabcd"); each pass removes characters, so this ends.
            while variant in text:
                text = text.replace(variant, masked)
                if variant in masked:  # a secret made of mask characters: one pass only
                    break
    return text


def mask_argv(argv: Sequence[str], secrets: Sequence[str]) -> list[str]:
    return [mask_text(arg, secrets) for arg in argv]


def _mask_query(query: str) -> str:
    pairs = []
    for pair in query.split("&"):
        key, sep, value = pair.partition("=")
        if sep and value and is_secret_query_key(urllib.parse.unquote_plus(key)):
            pair = f"{key}={mask_secret(urllib.parse.unquote_plus(value))}"
        pairs.append(pair)
    return "&".join(pairs)


def mask_url(url: str) -> str:
    """`url` with its userinfo password, secret query values and RTMP path key masked;
    deterministic.

    Everything else is kept as written, so the masked form still says where the
    URL points.
    """
    secrets = url_secrets(url)
    if not secrets:
        return url
    head, query, fragment = split_query(url)
    userinfo = url_userinfo(url)
    if userinfo is not None:
        scheme, _, rest = head.partition("://")
        netloc = re.split(r"[/#]", rest, maxsplit=1)[0]
        at = netloc.rindex("@")  # url_userinfo found one in the netloc
        user, password = userinfo
        if password is None:
            shown = mask_secret(urllib.parse.unquote(user))
        else:
            shown = f"{user}:{mask_secret(urllib.parse.unquote(password))}"
        head = f"{scheme}://{shown}{rest[at:]}"
    path_key = rtmp_path_key(url)
    if path_key is not None:
        # The last segment of the path (split_query left the query out of `head`).
        cut = head.rindex("/" + path_key) + 1
        head = (
            head[:cut] + mask_secret(urllib.parse.unquote(path_key)) + head[cut + len(path_key) :]
        )
    masked = head
    if query is not None:
        masked += "?" + _mask_query(query)
    if fragment is not None:
        masked += "#" + fragment
    # A secret repeated elsewhere (in the path) is masked as text too.
    return mask_text(masked, [s for s in secrets if len(s) >= 6])
