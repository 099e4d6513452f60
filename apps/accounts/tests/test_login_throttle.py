"""The login throttle counts per client; X-Forwarded-For counts only from trusted proxies."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import AuditEntry
from castcore.api.throttling import ClientScopedRateThrottle

pytestmark = pytest.mark.django_db

RATE = 3


@pytest.fixture(autouse=True)
def _low_login_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ClientScopedRateThrottle, "THROTTLE_RATES", {"login": f"{RATE}/min"})


def login(api: APIClient, forwarded: str | None = None, **extra: Any) -> Any:
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return api.post(
        "/api/v1/auth/login", {"username": "nobody", "password": "wrong-password"}, **extra
    )


def test_a_client_sending_a_new_x_forwarded_for_each_time_is_still_throttled(
    api: APIClient,
) -> None:
    for n in range(RATE):
        assert login(api, f"198.51.100.{n}").status_code == 401
    refused = login(api, "198.51.100.99")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0


def test_behind_a_trusted_proxy_each_client_address_is_throttled_on_its_own(
    api: APIClient, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = (ipaddress.ip_network("127.0.0.0/8"),)
    for _ in range(RATE):
        assert login(api, "203.0.113.7").status_code == 401
    assert login(api, "203.0.113.7").status_code == 429
    assert login(api, "203.0.113.8").status_code == 401  # another client behind the proxy


def test_behind_a_trusted_proxy_the_entries_a_client_wrote_itself_are_ignored(
    api: APIClient, settings: Any
) -> None:
    # The proxy appends the address it saw; what the client sent stays on the left.
    settings.TRUSTED_PROXIES = (ipaddress.ip_network("127.0.0.1"),)
    for n in range(RATE):
        assert login(api, f"10.9.9.{n}, 203.0.113.7").status_code == 401
    assert login(api, "10.9.9.99, 203.0.113.7").status_code == 429


def test_a_trusted_proxy_chain_is_followed_to_the_first_untrusted_hop(
    api: APIClient, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)
    for _ in range(RATE):
        # client, then an inner proxy's hop, then the proxy that connects to us
        assert login(api, "203.0.113.7, 10.1.1.1", REMOTE_ADDR="10.2.2.2").status_code == 401
    assert login(api, "203.0.113.7, 10.1.1.1", REMOTE_ADDR="10.2.2.2").status_code == 429
    assert login(api, "203.0.113.8, 10.1.1.1", REMOTE_ADDR="10.2.2.2").status_code == 401


def test_the_audit_log_records_the_client_address_the_trusted_proxy_gives(
    api: APIClient, settings: Any, viewer_user: Any, password: str
) -> None:
    settings.TRUSTED_PROXIES = (ipaddress.ip_network("127.0.0.1"),)
    response = api.post(
        "/api/v1/auth/login",
        {"username": "viewer", "password": password},
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert response.status_code == 200
    assert AuditEntry.objects.get(action="auth.login").ip == "203.0.113.7"


def test_an_untrusted_client_cannot_choose_its_audited_address(
    api: APIClient, viewer_user: Any, password: str
) -> None:
    api.post(
        "/api/v1/auth/login",
        {"username": "viewer", "password": password},
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert AuditEntry.objects.get(action="auth.login").ip == "127.0.0.1"
