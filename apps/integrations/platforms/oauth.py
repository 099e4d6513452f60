"""Linking an account through OAuth 2 (authorization code with PKCE), and keeping it linked.

The state is bound to the browser that started: `oauth_start` hands back a binding
value the view sets as an HttpOnly cookie, and the pending authorization (user, PKCE
verifier, the binding's hash) waits in the cache under the state. The callback is a
browser navigation from the provider (no bearer header), so the state and the cookie
are what authenticate it: both must match, and the state is taken once (a replayed
callback finds nothing). Tokens are stored encrypted and refreshed on use when they
are within PLATFORM_TOKEN_REFRESH_MARGIN_SECONDS of expiring.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.accounts.audit import audit_record
from apps.integrations import conf
from apps.integrations.platforms import providers
from apps.integrations.platforms.catalogue import platform_get
from apps.integrations.platforms.models import AccountKind, AccountStatus, PlatformAccount
from castcore.api.errors import ApiError, Conflict
from castcore.secrets import remember
from castcore.tickets import check_ticket, make_ticket

logger = logging.getLogger("castcore.integrations")
_STATE_KEY = "platform-oauth:{}"


def _provider(platform: str) -> dict[str, str]:
    entry = platform_get(platform)
    if entry is None or not entry.oauth:
        raise ApiError("platform.oauth_not_supported", {"platform": platform}, status_code=404)
    provider = conf.PLATFORM_OAUTH.get(platform, {})
    if not provider.get("client_id"):
        raise ApiError("platform.oauth_not_configured", {"platform": platform})
    return provider


def _session(platform: str, **kwargs: Any) -> OAuth2Session:
    provider = _provider(platform)
    entry = platform_get(platform)
    assert entry is not None
    return OAuth2Session(
        provider["client_id"],
        provider.get("client_secret") or None,
        scope=" ".join(entry.oauth_scopes),
        code_challenge_method="S256",
        default_timeout=conf.PLATFORM_HTTP_TIMEOUT_SECONDS,
        **kwargs,
    )


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Started:
    authorize_url: str
    binding: str  # set as a cookie on the browser that started; never stored in clear


def oauth_start(
    *,
    user: Any,
    platform: str,
    redirect_uri: str,
    name: str = "",
    account: PlatformAccount | None,
    return_to: str = "",
) -> Started:
    """Begin linking (or re-linking `account`): where to send the browser, and its binding.
    `return_to` names the page the callback answers with ("" for the API's JSON)."""
    if account is not None and account.platform != platform:
        raise ApiError("platform.account_platform_mismatch", {"platform": platform})
    state, verifier, binding = generate_token(32), generate_token(64), generate_token(32)
    url, _ = _session(platform, redirect_uri=redirect_uri).create_authorization_url(
        conf.PLATFORM_OAUTH[platform]["authorize_url"], state=state, code_verifier=verifier
    )
    pending = {
        "user": user.pk,
        "platform": platform,
        "name": name,
        "account": account.pk if account is not None else None,
        "verifier": verifier,
        "binding": _hash(binding),
        "redirect_uri": redirect_uri,
        "return_to": return_to,
    }
    cache.set(_STATE_KEY.format(_hash(state)), pending, conf.PLATFORM_OAUTH_STATE_SECONDS)
    return Started(url, binding)


def oauth_return_to(state: str) -> str:
    """Where the flow of `state` started from ("" for the API, or unknown): read before the
    callback takes the state, so that a refused callback can answer on the same page."""
    pending = cache.get(_STATE_KEY.format(_hash(state))) if state else None
    return str(pending.get("return_to", "")) if isinstance(pending, dict) else ""


# A link that starts linking in a browser: signed for one Admin and one platform, short-lived,
# used once (castcore.tickets signs it; the cache remembers it was used).
_TICKET_SALT = "platform-oauth-start:{}"
_TICKET_USED_KEY = "platform-oauth-ticket:{}"


def oauth_ticket_make(*, user: Any, platform: str) -> str:
    """A one-time pass for `user` to start linking `platform` from a browser."""
    _provider(platform)  # not_supported / not_configured now, not when the browser comes
    return make_ticket(salt=_TICKET_SALT.format(platform), subject=user.pk)


def oauth_ticket_take(*, raw: str, platform: str, user_id: int) -> Any:
    """The active user `raw` was made for, once; ApiError 401 otherwise."""
    valid = check_ticket(
        raw,
        salt=_TICKET_SALT.format(platform),
        subject=user_id,
        max_age=conf.PLATFORM_OAUTH_TICKET_SECONDS,
    )
    # cache.add is atomic: of two browsers opening one link, one gets in.
    if not valid or not cache.add(
        _TICKET_USED_KEY.format(_hash(raw)), 1, conf.PLATFORM_OAUTH_TICKET_SECONDS + 60
    ):
        raise ApiError("platform.oauth_ticket_invalid", {"platform": platform}, status_code=401)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise ApiError("platform.oauth_ticket_invalid", {"platform": platform}, status_code=401)
    return user


def _take_pending(state: str) -> dict[str, Any] | None:
    key = _STATE_KEY.format(_hash(state))
    pending = cache.get(key)
    # Only the caller whose delete removed the key may use it: a replay (or a race
    # between two callbacks) finds nothing.
    if pending is None or not cache.delete(key):
        return None
    return dict(pending)


def _expiry(token: dict[str, Any]) -> Any:
    if token.get("expires_at"):
        return datetime.fromtimestamp(float(token["expires_at"]), tz=UTC)
    if token.get("expires_in"):
        return timezone.now() + timedelta(seconds=float(token["expires_in"]))
    return None


def _store_token(account: PlatformAccount, token: dict[str, Any]) -> None:
    account.access_token = str(token["access_token"])
    remember(account.access_token)
    if token.get("refresh_token"):
        account.refresh_token = str(token["refresh_token"])
        remember(account.refresh_token)
    account.token_expires_at = _expiry(token)
    scope = token.get("scope", "")
    account.scopes = " ".join(scope) if isinstance(scope, list) else str(scope or "")


def oauth_callback(
    *, platform: str, state: str, code: str, error: str, binding: str
) -> PlatformAccount:
    """Finish linking: check state and binding, exchange the code, store the tokens."""
    pending = _take_pending(state) if state else None
    if (
        pending is None
        or pending["platform"] != platform
        or not hmac.compare_digest(pending["binding"], _hash(binding or ""))
    ):
        raise ApiError("platform.oauth_state_invalid", {"platform": platform})
    if error:
        raise ApiError("platform.oauth_denied", {"platform": platform})
    if not code:
        raise ApiError("platform.oauth_code_missing", {"platform": platform})
    session = _session(platform, redirect_uri=pending["redirect_uri"])
    try:
        token = session.fetch_token(
            conf.PLATFORM_OAUTH[platform]["token_url"],
            grant_type="authorization_code",
            code=code,
            code_verifier=pending["verifier"],
        )
    except AuthlibBaseError:
        raise ApiError("platform.oauth_code_invalid", {"platform": platform}) from None
    except requests.RequestException:
        raise ApiError("platform.unreachable", {"platform": platform}, status_code=502) from None
    try:
        who = providers.identity(platform, str(token["access_token"]))
    except providers.PlatformApiError as exc:
        raise ApiError(exc.code, {"platform": platform}, status_code=502) from None
    with transaction.atomic():
        account = None
        if pending["account"] is not None:
            account = (
                PlatformAccount.objects.select_for_update().filter(pk=pending["account"]).first()
            )
        if account is not None and account.external_id not in ("", who.external_id):
            # Consent given for another channel: re-linking would silently point every
            # output naming this account at it. Link it as a new account instead; the
            # tokens just issued for it are handed back, not kept.
            _revoke_at_platform(platform, str(token.get("refresh_token") or token["access_token"]))
            raise Conflict(
                "platform.relink_other_channel",
                {"platform": platform, "account": account.pk, "external_id": who.external_id},
            )
        if account is None:
            account = PlatformAccount(
                platform=platform,
                kind=AccountKind.OAUTH,
                name=pending["name"] or who.name or platform,
                created_by_id=pending["user"],
            )
        _store_token(account, token)
        account.status = AccountStatus.ACTIVE
        account.external_id, account.external_name = who.external_id, who.name
        account.save()
        audit_record(
            actor=get_user_model().objects.filter(pk=pending["user"]).first(),
            action="platform_account.link",
            target=account,
            changes={"platform": platform},
        )
    return account


class AccountUnusable(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def access_token(account: PlatformAccount) -> str:
    """A usable access token for `account`, refreshed first if it is about to expire.

    A refused refresh (revoked at the platform) marks the account revoked: it needs
    re-linking, and every later use says so without asking the platform again.
    """
    if account.kind != AccountKind.OAUTH or account.status != AccountStatus.ACTIVE:
        raise AccountUnusable("platform.account_revoked")
    margin = timedelta(seconds=conf.PLATFORM_TOKEN_REFRESH_MARGIN_SECONDS)
    if account.token_expires_at is None or account.token_expires_at - margin > timezone.now():
        return account.access_token
    failure = _refresh(account.pk, margin)
    account.refresh_from_db()
    if failure:
        raise AccountUnusable(failure)
    return account.access_token


def _refresh(account_id: int, margin: timedelta) -> str:
    """Refresh the account's tokens; '' or the code of what went wrong. A refused refresh
    is committed (the account is marked revoked), so it is returned, not raised."""
    with transaction.atomic():
        # One refresher at a time: the loser sees the winner's fresh token.
        locked = PlatformAccount.objects.select_for_update().get(pk=account_id)
        if locked.token_expires_at and locked.token_expires_at - margin > timezone.now():
            return ""
        if not locked.refresh_token:
            return "platform.token_expired"
        try:
            token = _session(locked.platform).refresh_token(
                conf.PLATFORM_OAUTH[locked.platform]["token_url"],
                refresh_token=locked.refresh_token,
            )
        except AuthlibBaseError as exc:
            if getattr(exc, "error", "") != "invalid_grant":
                return "platform.token_refresh_failed"
            locked.status = AccountStatus.REVOKED
            locked.access_token = locked.refresh_token = ""
            locked.save(update_fields=["status", "access_token", "refresh_token", "updated_at"])
            logger.warning("platform account %s: refresh refused, re-link it", locked.pk)
            return "platform.token_revoked"
        except requests.RequestException:
            return "platform.unreachable"
        _store_token(locked, token)
        locked.save(update_fields=["access_token", "refresh_token", "token_expires_at", "scopes"])
    return ""


def _revoke_at_platform(platform: str, token: str) -> None:
    """Tell the platform a token is no longer wanted. Best effort: the tokens are
    forgotten here either way, and the platform expires them."""
    provider = conf.PLATFORM_OAUTH.get(platform, {})
    with suppress(requests.RequestException, KeyError):
        requests.post(
            provider["revoke_url"],
            data={"token": token, "client_id": provider["client_id"]},
            timeout=conf.PLATFORM_HTTP_TIMEOUT_SECONDS,
            allow_redirects=False,
        )


def account_revoke(*, actor: Any, account: PlatformAccount, request: Any = None) -> PlatformAccount:
    """Unlink: tell the platform (best effort) and forget the tokens here either way."""
    if account.kind == AccountKind.OAUTH and account.access_token:
        _revoke_at_platform(account.platform, account.refresh_token or account.access_token)
    account.access_token = account.refresh_token = ""
    account.token_expires_at = None
    account.status = AccountStatus.REVOKED
    account.save(
        update_fields=["access_token", "refresh_token", "token_expires_at", "status", "updated_at"]
    )
    audit_record(actor=actor, action="platform_account.revoke", target=account, request=request)
    return account
