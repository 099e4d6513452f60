"""Network URLs in specs: their accepted shape, and the secrets they can carry.

One definition of "a secret inside a URL" serves the argv masking, the log
filter and the masked URLs the API shows (masking.mask_url).
"""

from __future__ import annotations

import re
import urllib.parse

from workers.ffmpeg.checks import SpecError, check_no_nul

_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
# Query parameters whose value is a credential: SRT passphrase and streamid (which often
# carries a publish key), tokens, signatures of presigned URLs, stream keys.
SECRET_QUERY_KEYS = frozenset(
    {"passphrase", "password", "passwd", "pass", "pwd", "token", "key", "secret", "auth",
     "streamid", "sig", "signature", "credential", "session"}
)  # fmt: skip
RTMP_SCHEMES = ("rtmp", "rtmps")
# The shortest last path segment of an RTMP URL taken for a stream key (rtmp_path_key).
MIN_PATH_KEY_LENGTH = 6
_SECRET_KEY_SUFFIXES = ("token", "secret", "password", "passwd", "passphrase", "key", "signature")


def validate_url(name: str, url: str, schemes: set[str]) -> urllib.parse.SplitResult:
    check_no_nul(name, url)
    if _URL_UNSAFE.search(url):
        raise SpecError("spec.invalid_url", field=name)
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise SpecError("spec.invalid_url", field=name) from None
    if parts.scheme not in schemes or not parts.hostname:
        raise SpecError("spec.invalid_url", field=name, allowed=sorted(schemes))
    return parts


def is_secret_query_key(key: str) -> bool:
    """`X-Amz-Signature`, `access_token`, `stream_key`, `passphrase`: all secrets."""
    lowered = key.lower().replace("-", "_")
    last = lowered.rsplit("_", 1)[-1]
    return (
        lowered in SECRET_QUERY_KEYS
        or last in SECRET_QUERY_KEYS
        or (lowered.endswith(_SECRET_KEY_SUFFIXES))
    )


def split_query(url: str) -> tuple[str, str | None, str | None]:
    """(everything before `?`, query, fragment) as written.

    libsrt and the other non-HTTP protocols read everything after `?` as options, `#`
    included (an SRT streamid is often `#!::r=…`); only http(s) has fragments.
    """
    head, sep, query = url.partition("?")
    if not sep:
        return url, None, None
    if url.split(":", 1)[0].lower() in ("http", "https"):
        query, hash_sep, fragment = query.partition("#")
        return head, query, (fragment if hash_sep else None)
    return head, query, None


def secret_query_values(query: str) -> list[tuple[str, str]]:
    """(value as written, decoded value) of each secret query parameter."""
    found = []
    for pair in query.split("&"):
        key, sep, value = pair.partition("=")
        if sep and value and is_secret_query_key(urllib.parse.unquote_plus(key)):
            found.append((value, urllib.parse.unquote_plus(value)))
    return found


def url_userinfo(url: str) -> tuple[str, str | None] | None:
    """(user, password) as written in the URL, or None when it has no userinfo."""
    rest = split_query(url)[0].partition("://")[2]
    netloc = re.split(r"[/#]", rest, maxsplit=1)[0]
    if "@" not in netloc:
        return None
    user, sep, password = netloc.rpartition("@")[0].partition(":")
    return user, (password if sep else None)


def rtmp_path_key(url: str) -> str | None:
    """The stream key of an RTMP URL written as its last path segment (`/app/KEY`), as written.

    `rtmp://host/app/instance/name`: the stream name after the application is what
    services hand out as the key (`rtmp://a.rtmp.youtube.com/live2/<key>`). A
    shorter name (`live/x`, `live/cam1`) is a name, not a key: it would be masked in
    every log line it happens to appear in. One already masked is not a key either.
    """
    head = split_query(url)[0]
    scheme, sep, rest = head.partition("://")
    if not sep or scheme.lower() not in RTMP_SCHEMES:
        return None
    segments = [segment for segment in rest.split("/")[1:] if segment]
    if len(segments) < 2:
        return None
    key = segments[-1]
    decoded = urllib.parse.unquote(key)
    if len(decoded) < MIN_PATH_KEY_LENGTH or "••••" in decoded:
        return None
    return key


def url_secrets(url: str) -> tuple[str, ...]:
    """Userinfo passwords (or a lone user name: a token), secret query values, the key in
    an RTMP URL's path.

    Each is returned decoded and as written, so text holding either spelling is masked.
    """
    found: list[str] = []
    userinfo = url_userinfo(url)
    if userinfo is not None:
        user, password = userinfo
        raw = password if password is not None else user
        found += [raw, urllib.parse.unquote(raw)]
    query = split_query(url)[1]
    for written, decoded in secret_query_values(query or ""):
        found += [written, decoded]
    path_key = rtmp_path_key(url)
    if path_key is not None:
        found += [path_key, urllib.parse.unquote(path_key)]
    return tuple(dict.fromkeys(value for value in found if value))
