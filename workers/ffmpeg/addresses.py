"""Network addresses CastCore refuses to reach: the one address policy.

Django-free and shared: stream job inputs and outputs (policy.py), every connection
ffmpeg and ffprobe make for an http(s) input (egress.py), storage sources and their
checks (apps.media.storage) use this one definition; castcore.addresses builds the
`AddressPolicy` from the settings.

- Link-local addresses and cloud metadata services: refused unless
  CASTCORE_ALLOW_LINK_LOCAL_TARGETS.
- Private ranges (10/8, 172.16/12, 192.168/16, fc00::/7): allowed by default, as a
  self-hosted restreamer needs (MinIO, nginx-rtmp and NAS live there); refused when
  CASTCORE_ALLOW_PRIVATE_TARGETS is off, for deployments whose users are not trusted
  with the network position of the server.
- This host and its neighbours (loopback 127/8 and ::1, the unspecified 0.0.0.0/8
  and ::, carrier-grade NAT 100.64/10): allowed with the private ranges and refused
  with them, since Redis, PostgreSQL and CastCore itself listen on loopback. What
  CastCore connects to for itself (its egress proxy, its own ingest) is not a target
  a user chose and does not go through this policy.

Cloud metadata services answer on link-local addresses (AWS, GCP, Azure, OpenStack:
169.254.169.254; AWS IPv6: fd00:ec2::254; Alibaba: 100.100.100.200; Azure's
WireServer: 168.63.129.16) and hand out the machine's credentials to any caller.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

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
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("127.0.0.0/8", "::1/128", "0.0.0.0/8", "::/128", "100.64.0.0/10")
)
LINK_LOCAL = "link_local"  # the reasons refusal() gives
PRIVATE = "private"
LOCAL = "local"


@dataclass(frozen=True)
class AddressPolicy:
    """Which kinds of addresses may be reached besides public ones."""

    allow_link_local: bool = False
    allow_private: bool = True


#: The defaults of the settings: link-local refused, private ranges allowed.
DEFAULT_POLICY = AddressPolicy()
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


def refusal(text: str, policy: AddressPolicy = DEFAULT_POLICY) -> str | None:
    """Why a literal address may not be reached (LINK_LOCAL, PRIVATE, LOCAL); None if it may,
    or if `text` is not an address (a name: resolve it, see resolve_checked)."""
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None
    candidates = {addr, _embedded_ipv4(addr)}
    if not policy.allow_link_local and any(
        a in net for a in candidates for net in NOT_ALLOWED_NETWORKS
    ):
        return LINK_LOCAL
    if not policy.allow_private:
        if any(a in net for a in candidates for net in PRIVATE_NETWORKS):
            return PRIVATE
        if any(a in net for a in candidates for net in LOCAL_NETWORKS):
            return LOCAL
    return None


def address_not_allowed(text: str, policy: AddressPolicy = DEFAULT_POLICY) -> bool:
    """True for a literal address the policy refuses; False for anything else (names too)."""
    return refusal(text, policy) is not None


# One label of a host name in its ASCII (IDNA) form. Underscores are let through:
# container and service names use them, and resolvers accept them.
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def host_problem(host: str) -> str | None:
    """Why `host` (as urlsplit gives it) is neither an IP address nor a host name; None if
    it is one. A name in Unicode counts in its IDNA form (`bücher.example`)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None
    except ValueError:
        pass
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return "not a valid host name"
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        return "not a valid host name"
    return None


def normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def refused_address(host: str, policy: AddressPolicy = DEFAULT_POLICY) -> str | None:
    """Why `host` may not be reached: the metadata name or refused address; None if allowed.

    Every address the name resolves to is checked (so `2852039166`, `0xa9.254.169.254`
    and a DNS name pointing at 169.254.169.254 are caught). A name that does not
    resolve now passes: connecting to it fails anyway, and ffmpeg, the one caller
    that connects later, connects through egress.py, which checks again.
    """
    try:
        resolve_checked(host, 0, policy=policy)
    except PermissionError as refused:
        return str(refused)
    except OSError:
        pass  # does not resolve now
    return None


def resolve_checked(
    host: str, port: int, *, policy: AddressPolicy = DEFAULT_POLICY
) -> list[tuple[str, int]]:
    """The addresses to connect to for `host`, each one allowed by `policy`.

    Raises PermissionError (its message: the refused name or address) if the name
    is a metadata service or any address it resolves to is refused, and OSError
    if it does not resolve. Connect to these addresses, not to the name again: a
    second lookup may answer differently.
    """
    name = normalize_host(host)
    metadata = not policy.allow_link_local and name in METADATA_HOSTS
    if metadata or address_not_allowed(name, policy):
        raise PermissionError(name)
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (UnicodeError, ValueError) as exc:
        raise OSError(str(exc)) from None
    addresses = []
    for *_rest, sockaddr in infos:
        address = str(sockaddr[0])
        if address_not_allowed(address, policy):
            raise PermissionError(address)
        addresses.append((address, port))
    return addresses
