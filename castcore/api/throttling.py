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


class ClientFailureThrottle(ClientScopedRateThrottle):
    """Failed attempts (a wrong password) per client address, at `scope`'s rate.

    For credentials checked on every request (HTTP Basic), where counting every request
    would throttle a client that polls with the right one. Once the rate is used up, every
    attempt from that address is refused, the right password too, until the oldest failure
    ages out: a refusal does not tell whether the guess was right. Call `wait_before`
    before checking the credential, and `record_failure` when it was wrong.
    """

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_cache_key(self, request: Request, view: object = None) -> str:
        # The address only: the request's user is what is being authenticated.
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def wait_before(self, request: Request) -> float | None:
        """Seconds until the address may try again; None when it may now."""
        self.key = self.get_cache_key(request)
        self.now = self.timer()
        self.history = [
            at for at in self.cache.get(self.key, []) if at > self.now - (self.duration or 0)
        ]
        if self.num_requests is not None and len(self.history) >= self.num_requests:
            return self.wait()
        return None

    def record_failure(self, request: Request) -> None:
        self.wait_before(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)
