"""The client's address: REMOTE_ADDR, or what trusted proxies say it is.

`X-Forwarded-For` is only believed when the connection comes from an address in
settings.TRUSTED_PROXIES (CASTCORE_TRUSTED_PROXIES, none by default): anyone else
can write any value there, and a login throttle keyed on it was bypassed by
sending a new value with each request. From a trusted proxy the list is read
from the right, skipping the proxies' own hops: the first address no trusted
proxy owns is the client (the leftmost entries are the client's to forge).

One place for the rule: the login throttle, django-axes' lockout
(AXES_CLIENT_IP_CALLABLE) and the audit log all use it.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> Address | None:
    """An address as proxies write it: `203.0.113.7`, `203.0.113.7:5000`, `[2001:db8::1]:80`."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket: the same client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address | None) -> bool:
    return address is not None and any(
        address.version == network.version and address in network
        for network in settings.TRUSTED_PROXIES
    )


def client_ip(request: HttpRequest) -> str | None:
    """The address of the client that made `request`."""
    remote = request.META.get("REMOTE_ADDR")
    peer = _address(remote) if remote else None
    if not _trusted(peer):
        return remote
    client: Address | None = peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part for part in forwarded.split(",") if part.strip()]):
        address = _address(hop)
        if address is None:
            break  # garbage: the last hop a trusted proxy wrote is all we know
        client = address
        if not _trusted(address):
            break
    return str(client)
