"""Writes and checks on platform accounts, called by views, admin and the stream runtime."""

from __future__ import annotations

import urllib.parse

from django.utils import timezone

from apps.integrations.platforms import oauth, providers
from apps.integrations.platforms.catalogue import platform_get
from apps.integrations.platforms.models import AccountKind, PlatformAccount
from castcore.secrets import remember
from workers.ffmpeg.addresses import host_problem

OK = "platform.ok"
INGEST_SCHEMES = ("rtmp", "rtmps", "srt")


def ingest_url_problem(url: str) -> str | None:
    """Why `url` cannot be a stream key account's ingest URL (None if it can)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # ValueError: not a number, or outside 0-65535
    except ValueError:
        return "not a URL, or a port outside 1-65535"
    if parts.scheme not in INGEST_SCHEMES or not parts.hostname:
        return "must be rtmp://, rtmps:// or srt:// with a host"
    if port == 0:
        return "not a URL, or a port outside 1-65535"
    if parts.username or parts.password:
        return "credentials go in the stream key, not the URL"
    return host_problem(parts.hostname)


def account_ingest(account: PlatformAccount) -> providers.Ingest:
    """Where a run sends to for `account`: its stored URL and key, or what the platform's
    API hands out now. Raises oauth.AccountUnusable or providers.PlatformApiError."""
    if account.kind == AccountKind.STREAM_KEY:
        return providers.Ingest(account.ingest_url, account.stream_key)
    token = oauth.access_token(account)
    return providers.ingest(account.platform, token, account.external_id)


class AccountTargetError(ValueError):
    """The account cannot give an ingest now; the message is the code."""


def account_target(account: PlatformAccount, *, fetch: bool) -> providers.Ingest:
    """The ingest an output naming `account` sends to: what stream_jobs' spec mapping calls.

    `fetch=False` (validating a job, not starting it) asks the platform nothing: a linked
    account answers with its platform's default server and a placeholder key. The
    fetched key is held in memory only (never stored) and registered for log redaction.
    """
    if account.kind == AccountKind.STREAM_KEY:
        return providers.Ingest(account.ingest_url, account.stream_key)
    if not fetch:
        entry = platform_get(account.platform)
        server = entry.ingest_servers[0].url if entry and entry.ingest_servers else ""
        return providers.Ingest(account.ingest_url or server, "fetched-at-start")
    try:
        ingest = account_ingest(account)
    except (oauth.AccountUnusable, providers.PlatformApiError) as exc:
        raise AccountTargetError(exc.code) from None
    remember(ingest.key)
    return ingest


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


def platform_account_url(account: PlatformAccount) -> str:
    """The URL an output naming `account` shows: its own, or its platform's default server."""
    entry = platform_get(account.platform)
    default = entry.ingest_servers[0].url if entry and entry.ingest_servers else ""
    return account.ingest_url or default
