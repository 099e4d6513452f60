"""Throttles keyed on the client's address as castcore.client_ip resolves it."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle


class ClientScopedRateThrottle(ScopedRateThrottle):
    """DRF's ScopedRateThrottle, keyed on the client address.

    DRF's own key believes any `X-Forwarded-For` (NUM_PROXIES unset), so a client
    that sent a new value with each request was never throttled.
    """

    def get_ident(self, request: Request) -> str:
        from castcore.client_ip import client_ip

        return client_ip(request._request) or ""
