"""Notification targets that e-mail through the instance's SMTP settings.

The SMTP server is the one set in the admin's global settings (`smtp_host` and the rest)
when it names one, else the environment's EMAIL_* settings.

A target URL of RFC 6068's form, `mailto:alice@example.org,bob@example.org` (no `//`),
means "e-mail these people through EMAIL_HOST": the apprise URL is built from the
settings at each send, so the SMTP password is in no target's row and a change of the
settings reaches every such target. The SMTP server is the operator's, like the OAuth
endpoints, so the address policy for user-chosen targets does not apply to it. A full
apprise URL (`mailto://user:pass@smtp.example.org…`) still names a server of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    user: str
    password: str
    sender: str
    mode: str  # "ssl", "starttls" or "insecure"


def smtp_server() -> Smtp:
    """The SMTP server to send through: the admin's global settings when they name a host
    (port 465 is SMTPS, any other STARTTLS), else the environment's EMAIL_* settings."""
    from apps.system.models import GlobalSettings

    config = GlobalSettings.load()
    if config.smtp_host:
        return Smtp(
            host=config.smtp_host, port=config.smtp_port, user=config.smtp_username,
            password=config.smtp_password, sender=config.smtp_from or settings.DEFAULT_FROM_EMAIL,
            mode="ssl" if config.smtp_port == 465 else "starttls",
        )  # fmt: skip
    mode = "ssl" if settings.EMAIL_USE_SSL else "starttls" if settings.EMAIL_USE_TLS else "insecure"
    return Smtp(
        host=settings.EMAIL_HOST, port=settings.EMAIL_PORT, user=settings.EMAIL_HOST_USER,
        password=settings.EMAIL_HOST_PASSWORD, sender=settings.DEFAULT_FROM_EMAIL, mode=mode,
    )  # fmt: skip


def apprise_url(url: str) -> str | None:
    """The apprise URL that sends a settings-form target's mail; None if it names nobody."""
    to = recipients(url)
    if to is None:
        return None
    smtp = smtp_server()
    login = ""
    if smtp.user:
        password = quote(smtp.password, safe="")
        remember(smtp.password)
        remember(password)
        login = f"{quote(smtp.user, safe='')}:{password}@"
    query = urlencode(
        {"smtp": smtp.host, "from": smtp.sender, "to": ",".join(to), "mode": smtp.mode}
    )
    scheme = "mailto" if smtp.mode == "insecure" else "mailtos"
    return f"{scheme}://{login}{smtp.host}:{smtp.port}/?{query}"
