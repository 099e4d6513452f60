"""Network addresses CastCore refuses to reach: link-local and cloud metadata services.

Django-free and shared: stream job inputs and outputs (policy.py) and storage
sources (apps.media.storage.base) use this one definition. Loopback and private
ranges stay allowed: self-hosted servers (MinIO, nginx-rtmp) live there.

Cloud metadata services answer on link-local addresses (AWS, GCP, Azure, OpenStack:
169.254.169.254; AWS IPv6: fd00:ec2::254; Alibaba: 100.100.100.200; Azure's
WireServer: 168.63.129.16) and hand out the machine's credentials to any caller.
"""

from __future__ import annotations

import ipaddress
import socket

NOT_ALLOWED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "169.254.0.0/16",
        "fe80::/10",
        "fd00:ec2::254/128",
        "100.100.100.200/32",
        "168.63.129.16/32",
    )
)
METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data.ec2.internal"}
)
# NAT64 (RFC 6052) carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), else addr itself."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return addr.ipv4_mapped
        if addr.sixtofour is not None:
            return addr.sixtofour
        if addr in _NAT64:
            return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return addr  # type: ignore[return-value]


def address_not_allowed(text: str) -> bool:
    """True for a literal address in a refused network; False for anything else (names too)."""
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    candidates = {addr, _embedded_ipv4(addr)}
    return any(a in net for a in candidates for net in NOT_ALLOWED_NETWORKS)


def normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def refused_address(host: str) -> str | None:
    """Why `host` may not be reached: the metadata name or refused address; None if allowed.

    Every address the name resolves to is checked (so `2852039166`, `0xa9.254.169.254`
    and a DNS name pointing at 169.254.169.254 are caught). A name that does not
    resolve now passes: connecting to it fails anyway, and ffmpeg, the one caller
    that connects later, connects through egress.py, which checks again.
    """
    try:
        resolve_checked(host, 0)
    except PermissionError as refused:
        return str(refused)
    except OSError:
        pass  # does not resolve now
    return None


def resolve_checked(
    host: str, port: int, *, allow_link_local: bool = False
) -> list[tuple[str, int]]:
    """The addresses to connect to for `host`, each one allowed.

    Raises PermissionError (its message: the refused name or address) if the name
    is a metadata service or any address it resolves to is refused, and OSError
    if it does not resolve. Connect to these addresses, not to the name again: a
    second lookup may answer differently. `allow_link_local` (the
    CASTCORE_ALLOW_LINK_LOCAL_TARGETS setting) lifts the refusal.
    """
    name = normalize_host(host)
    if not allow_link_local and (name in METADATA_HOSTS or address_not_allowed(name)):
        raise PermissionError(name)
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (UnicodeError, ValueError) as exc:
        raise OSError(str(exc)) from None
    addresses = []
    for *_rest, sockaddr in infos:
        address = str(sockaddr[0])
        if not allow_link_local and address_not_allowed(address):
            raise PermissionError(address)
        addresses.append((address, port))
    return addresses
