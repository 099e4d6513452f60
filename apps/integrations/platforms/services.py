"""Writes and checks on platform accounts, called by views, admin and the stream runtime."""

from __future__ import annotations

import urllib.parse

from django.utils import timezone

from apps.integrations.platforms import oauth, providers
from apps.integrations.platforms.models import AccountKind, PlatformAccount

OK = "platform.ok"
INGEST_SCHEMES = ("rtmp", "rtmps", "srt")


def ingest_url_problem(url: str) -> str | None:
    """Why `url` cannot be a stream key account's ingest URL (None if it can)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "not a URL"
    if parts.scheme not in INGEST_SCHEMES or not parts.hostname:
        return "must be rtmp://, rtmps:// or srt:// with a host"
    if parts.username or parts.password:
        return "credentials go in the stream key, not the URL"
    return None


def account_ingest(account: PlatformAccount) -> providers.Ingest:
    """Where a run sends to for `account`: its stored URL and key, or what the platform's
    API hands out now. Raises oauth.AccountUnusable or providers.PlatformApiError."""
    if account.kind == AccountKind.STREAM_KEY:
        return providers.Ingest(account.ingest_url, account.stream_key)
    token = oauth.access_token(account)
    return providers.ingest(account.platform, token, account.external_id)


def platform_account_test(*, account: PlatformAccount) -> str:
    """Check the credentials against the platform; the code says what is wrong, or `platform.ok`.

    A stream key cannot be checked without publishing to it, so a stream key account is
    checked for a usable URL and a key only (`platform.ok_unverified`).
    """
    if account.kind == AccountKind.STREAM_KEY:
        if not account.stream_key:
            code = "platform.stream_key_missing"
        elif ingest_url_problem(account.ingest_url):
            code = "platform.ingest_url_invalid"
        else:
            code = "platform.ok_unverified"
    else:
        try:
            token = oauth.access_token(account)
            providers.identity(account.platform, token)
            providers.ingest(account.platform, token, account.external_id)
            code = OK
        except oauth.AccountUnusable as exc:
            code = exc.code
        except providers.PlatformApiError as exc:
            code = exc.code
    PlatformAccount.objects.filter(pk=account.pk).update(
        last_test_code=code, last_tested_at=timezone.now()
    )
    return code
