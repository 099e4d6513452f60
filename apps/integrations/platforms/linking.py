"""The browser's side of linking an account: where OAuth starts and where it comes back.

Three ways to start, one redirect: the API's `GET …/oauth/start` (a client that can send
a bearer header and follow the redirect itself), a one-time ticket link from
`POST …/oauth/start` that a browser opens (`…/oauth/begin?ticket=…`), and the admin's
"Link a … account" button (the admin's session). Each ends in `start_redirect`: the
provider's authorize URL, with the binding cookie set on that browser.

A flow started from a page (the ticket link, the admin) comes back to a page: the
callback redirects to the account's admin page with the result as a message, instead
of leaving a person on JSON. The API's GET keeps answering JSON, as documented.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from apps.integrations import conf
from apps.integrations.platforms import oauth
from apps.integrations.platforms.models import PlatformAccount

BINDING_COOKIE = "cc_platform_oauth"
COOKIE_PATH = "/api/v1/platforms/"
#: `return_to` of a flow started from a page: the callback answers with the admin's page.
RETURN_TO_ADMIN = "admin"


def redirect_uri(request: HttpRequest, platform: str) -> str:
    path = f"/api/v1/platforms/{platform}/oauth/callback"
    base = conf.PLATFORM_OAUTH_REDIRECT_BASE.rstrip("/")
    return base + path if base else request.build_absolute_uri(path)


def start_redirect(
    request: HttpRequest,
    *,
    user: Any,
    platform: str,
    name: str,
    account: PlatformAccount | None,
    return_to: str = "",
) -> HttpResponseRedirect:
    """Send this browser to the provider, bound to it by an HttpOnly cookie."""
    started = oauth.oauth_start(
        user=user,
        platform=platform,
        redirect_uri=redirect_uri(request, platform),
        name=name[:100],
        account=account,
        return_to=return_to,
    )
    response = HttpResponseRedirect(started.authorize_url)
    response.set_cookie(
        BINDING_COOKIE,
        started.binding,
        max_age=conf.PLATFORM_OAUTH_STATE_SECONDS,
        path=COOKIE_PATH,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",  # sent on the provider's top-level redirect back, not on embeds
    )
    return response


def account_page(account: PlatformAccount) -> str:
    return reverse("admin:integrations_platformaccount_change", args=[account.pk])


def accounts_page() -> str:
    return reverse("admin:integrations_platformaccount_changelist")


def admin_link_url(platform: str) -> str:
    """Where the admin's button posts (with `account` to re-link one): starts linking with
    the admin's session."""
    return reverse("admin:integrations_platformaccount_link", args=[platform])
