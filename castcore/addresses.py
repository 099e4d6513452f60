"""The settings of the address policy (workers/ffmpeg/addresses.py), read once.

One policy for every address CastCore connects to: stream job inputs and outputs,
ffmpeg's own connections through the egress proxy, storage source endpoints and
their checks. Services read `address_policy()` at call time, so a test can
monkeypatch these attributes.
"""

from __future__ import annotations

from castcore.env import env_bool
from workers.ffmpeg.addresses import AddressPolicy

#: Link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata services.
ALLOW_LINK_LOCAL_TARGETS = env_bool("CASTCORE_ALLOW_LINK_LOCAL_TARGETS", False)
#: Private ranges (10/8, 172.16/12, 192.168/16, fc00::/7): on for a self-hosted restreamer,
#: off where users are not trusted with the server's place in the network.
ALLOW_PRIVATE_TARGETS = env_bool("CASTCORE_ALLOW_PRIVATE_TARGETS", True)


def address_policy() -> AddressPolicy:
    return AddressPolicy(
        allow_link_local=ALLOW_LINK_LOCAL_TARGETS, allow_private=ALLOW_PRIVATE_TARGETS
    )
