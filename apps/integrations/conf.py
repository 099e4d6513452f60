"""Environment settings of the integrations app, parsed strictly (castcore.env).

Read at import; tests monkeypatch these attributes, and the Celery worker processes
they start get the CASTCORE_WEBHOOK_* / CASTCORE_NOTIFICATION_* variables.
"""

from __future__ import annotations

from castcore.env import env_float, env_int, env_str

WEBHOOK_CONNECT_TIMEOUT_SECONDS = env_float(
    "CASTCORE_WEBHOOK_CONNECT_TIMEOUT_SECONDS", 5.0, minimum=0.1
)
WEBHOOK_READ_TIMEOUT_SECONDS = env_float("CASTCORE_WEBHOOK_READ_TIMEOUT_SECONDS", 10.0, minimum=0.1)
#: One attempt as a whole (lookups, connects, redirects, the answer): past it, it is cut.
WEBHOOK_TIMEOUT_SECONDS = env_float("CASTCORE_WEBHOOK_TIMEOUT_SECONDS", 30.0, minimum=0.5)
#: Bytes of a response read at most; the rest is never read (the connection is closed).
WEBHOOK_MAX_RESPONSE_BYTES = env_int("CASTCORE_WEBHOOK_MAX_RESPONSE_BYTES", 65536, minimum=1024)
WEBHOOK_MAX_REDIRECTS = env_int("CASTCORE_WEBHOOK_MAX_REDIRECTS", 3, minimum=0)
#: Retries: the n-th wait is base·2^(n-1) capped at max, with jitter (half to all of it).
WEBHOOK_RETRY_BASE_SECONDS = env_float("CASTCORE_WEBHOOK_RETRY_BASE_SECONDS", 30.0, minimum=0.01)
WEBHOOK_RETRY_MAX_SECONDS = env_float("CASTCORE_WEBHOOK_RETRY_MAX_SECONDS", 3600.0, minimum=0.01)
#: A delivery is given up once its next attempt would fall this long after its event.
WEBHOOK_RETRY_WINDOW_SECONDS = env_float(
    "CASTCORE_WEBHOOK_RETRY_WINDOW_SECONDS", 86400.0, minimum=0.1
)
#: A webhook is switched off when every attempt failed for this long, and this many times.
WEBHOOK_DISABLE_AFTER_SECONDS = env_float(
    "CASTCORE_WEBHOOK_DISABLE_AFTER_SECONDS", 86400.0, minimum=0.0
)
WEBHOOK_DISABLE_AFTER_FAILURES = env_int("CASTCORE_WEBHOOK_DISABLE_AFTER_FAILURES", 10, minimum=1)
#: A claimed attempt is let go (a sweep may take it) this long after its attempt's
#: timeout has passed: its claim lasts twice WEBHOOK_TIMEOUT_SECONDS plus this (120 s
#: with the defaults; webhooks.claim_seconds), so a worker that is slow to write the
#: outcome never sees its delivery taken and POSTed again by another.
WEBHOOK_CLAIM_MARGIN_SECONDS = 60.0
#: Events of one type about one subject inside this window become one notification.
NOTIFICATION_WINDOW_SECONDS = env_float("CASTCORE_NOTIFICATION_WINDOW_SECONDS", 300.0, minimum=0.0)
NOTIFICATION_MAX_ATTEMPTS = env_int("CASTCORE_NOTIFICATION_MAX_ATTEMPTS", 5, minimum=1)
#: One send as a whole (apprise's own limit on the call); a message is claimed for twice
#: this plus WEBHOOK_CLAIM_MARGIN_SECONDS, so no other worker takes it while it is sent.
NOTIFICATION_TIMEOUT_SECONDS = env_float("CASTCORE_NOTIFICATION_TIMEOUT_SECONDS", 30.0, minimum=1.0)
#: Events (with their deliveries) and sent messages are kept this long, for the delivery log.
OUTBOX_KEEP_DAYS = env_int("CASTCORE_OUTBOX_KEEP_DAYS", 30, minimum=2)
#: An outbox row not handed over this long after it was written is handed over by the sweep.
OUTBOX_SWEEP_GRACE_SECONDS = 5.0

#: OAuth clients and API base URLs of the platforms that link through OAuth. The
#: endpoints are settings so an instance (and the tests) can point them elsewhere;
#: they are the operator's, not a user's, so the address policy does not apply to them.
PLATFORM_OAUTH: dict[str, dict[str, str]] = {
    "youtube": {
        "client_id": env_str("CASTCORE_YOUTUBE_CLIENT_ID"),
        "client_secret": env_str("CASTCORE_YOUTUBE_CLIENT_SECRET"),
        "authorize_url": env_str(
            "CASTCORE_YOUTUBE_AUTHORIZE_URL", "https://accounts.google.com/o/oauth2/v2/auth"
        ),
        "token_url": env_str("CASTCORE_YOUTUBE_TOKEN_URL", "https://oauth2.googleapis.com/token"),
        "revoke_url": env_str(
            "CASTCORE_YOUTUBE_REVOKE_URL", "https://oauth2.googleapis.com/revoke"
        ),
        "api_url": env_str("CASTCORE_YOUTUBE_API_URL", "https://www.googleapis.com"),
    },
    "twitch": {
        "client_id": env_str("CASTCORE_TWITCH_CLIENT_ID"),
        "client_secret": env_str("CASTCORE_TWITCH_CLIENT_SECRET"),
        "authorize_url": env_str(
            "CASTCORE_TWITCH_AUTHORIZE_URL", "https://id.twitch.tv/oauth2/authorize"
        ),
        "token_url": env_str("CASTCORE_TWITCH_TOKEN_URL", "https://id.twitch.tv/oauth2/token"),
        "revoke_url": env_str("CASTCORE_TWITCH_REVOKE_URL", "https://id.twitch.tv/oauth2/revoke"),
        "api_url": env_str("CASTCORE_TWITCH_API_URL", "https://api.twitch.tv"),
    },
}
#: Where the provider sends the browser back; empty: built from the request's host.
PLATFORM_OAUTH_REDIRECT_BASE = env_str("CASTCORE_PLATFORM_OAUTH_REDIRECT_BASE")
#: A pending authorization (state, PKCE verifier) is forgotten after this long.
PLATFORM_OAUTH_STATE_SECONDS = 600
#: A ticket link from POST …/oauth/start opens the flow in a browser once, within this long.
PLATFORM_OAUTH_TICKET_SECONDS = 120
#: An access token this close to expiry is refreshed before it is used: a call that
#: starts just before the expiry must not reach the platform just after it.
PLATFORM_TOKEN_REFRESH_MARGIN_SECONDS = env_int(
    "CASTCORE_PLATFORM_TOKEN_REFRESH_MARGIN_SECONDS", 300, minimum=0
)
PLATFORM_HTTP_TIMEOUT_SECONDS = env_float(
    "CASTCORE_PLATFORM_HTTP_TIMEOUT_SECONDS", 10.0, minimum=0.1
)
