"""castcore.client_ip: the address a request comes from, and whom to trust to say it."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from castcore.client_ip import client_ip
from castcore.env import env_networks


def ip_of(remote: str, forwarded: str | None = None) -> str | None:
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(request)


def test_without_trusted_proxies_the_header_is_ignored(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ()
    assert ip_of("192.0.2.1", "203.0.113.7") == "192.0.2.1"


def test_a_trusted_proxy_gives_the_rightmost_address_it_does_not_own(settings: Any) -> None:
    settings.TRUSTED_PROXIES = env_networks("X", {"X": "10.0.0.0/8, 2001:db8::/32"})
    assert ip_of("10.0.0.1", "1.1.1.1, 203.0.113.7, 10.3.3.3") == "203.0.113.7"
    assert ip_of("2001:db8::1", "[2001:db8:1::5]:4431, 203.0.113.7:5000") == "203.0.113.7"
    assert ip_of("10.0.0.1") == "10.0.0.1"  # no header: the proxy itself
    assert ip_of("10.0.0.1", "10.4.4.4") == "10.4.4.4"  # only proxies: the leftmost
    assert ip_of("10.0.0.1", "203.0.113.7, not-an-address") == "10.0.0.1"


def test_an_ipv4_client_through_an_ipv6_socket_is_the_same_client(settings: Any) -> None:
    settings.TRUSTED_PROXIES = env_networks("X", {"X": "127.0.0.1"})
    assert ip_of("127.0.0.1", "::ffff:203.0.113.7") == "203.0.113.7"


def test_a_malformed_trusted_proxies_setting_stops_start_up() -> None:
    with pytest.raises(ImproperlyConfigured, match="not an IP address or network"):
        env_networks("CASTCORE_TRUSTED_PROXIES", {"CASTCORE_TRUSTED_PROXIES": "10.0.0.0/8,proxy"})
    assert env_networks("CASTCORE_TRUSTED_PROXIES", {}) == ()
    assert env_networks("X", {"X": "10.1.2.3/8"}) == (ipaddress.ip_network("10.0.0.0/8"),)
