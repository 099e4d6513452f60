"""Notification targets that e-mail through the instance's SMTP settings (EMAIL_*).

A target URL of RFC 6068's form, `mailto:alice@example.org,bob@example.org` (no `//`),
means "e-mail these people through EMAIL_HOST": the apprise URL is built from the
settings at each send, so the SMTP password is in no target's row and a change of the
settings reaches every such target. The SMTP server is the operator's, like the OAuth
endpoints, so the address policy for user-chosen targets does not apply to it. A full
apprise URL (`mailto://user:pass@smtp.example.org…`) still names a server of its own.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from castcore.secrets import remember

SCHEME = "mailto:"


def uses_settings(url: str) -> bool:
    """Whether `url` is the settings form (`mailto:` + addresses), not an apprise mailto://."""
    return url.startswith(SCHEME) and not url.startswith(SCHEME + "//")


def recipients(url: str) -> list[str] | None:
    """The addresses of a settings-form URL; None if one of them is not an e-mail address."""
    found = [part.strip() for part in url[len(SCHEME) :].split(",") if part.strip()]
    try:
        for address in found:
            validate_email(address)
    except ValidationError:
        return None
    return found or None


def apprise_url(url: str) -> str | None:
    """The apprise URL that sends a settings-form target's mail; None if it names nobody."""
    to = recipients(url)
    if to is None:
        return None
    mode = "ssl" if settings.EMAIL_USE_SSL else "starttls" if settings.EMAIL_USE_TLS else "insecure"
    login = ""
    if settings.EMAIL_HOST_USER:
        password = quote(settings.EMAIL_HOST_PASSWORD, safe="")
        remember(settings.EMAIL_HOST_PASSWORD)
        remember(password)
        login = f"{quote(settings.EMAIL_HOST_USER, safe='')}:{password}@"
    query = urlencode(
        {"smtp": settings.EMAIL_HOST, "from": settings.DEFAULT_FROM_EMAIL, "to": ",".join(to),
         "mode": mode}
    )  # fmt: skip
    scheme = "mailto" if mode == "insecure" else "mailtos"
    return f"{scheme}://{login}{settings.EMAIL_HOST}:{settings.EMAIL_PORT}/?{query}"
