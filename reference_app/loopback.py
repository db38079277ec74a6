"""What counts as loopback: the one answer every safety rail and every bind decision uses
(the chaos CLI's endpoints, `gameday load`'s target, the Grafana URL, the dummy-credentials
rule for a local AWS endpoint, the X-Ray emitter's source address, the stack's bind checks).

Loopback is whatever the kernel keeps on this machine's loopback interface:

- IPv4 127.0.0.0/8 (the stack itself binds 127.0.0.1 only);
- IPv6 `::1`, deliberately included: traffic to it never leaves the machine either, so a rail
  that accepts 127.0.0.1 and refuses `::1` protects nothing and only breaks a `localhost`
  that resolves to `::1` first;
- IPv4-mapped 127.0.0.0/8 (`::ffff:127.0.0.1`, as a dual-stack socket reports it);
- the name `localhost` (RFC 6761 reserves it for loopback). No other name is resolved here: a
  DNS lookup in a safety check (or at every AWS client built) could be slow, or answer
  differently later; callers that accept names resolve them and ask about each address.

Lives in reference_app, the lowest layer, so every layer above uses this one function.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOCALHOST = "localhost"
DESCRIPTION = "loopback (127.0.0.0/8, ::1 or localhost)"  # for messages that refuse a target


def is_loopback_host(host: str | None) -> bool:
    """True for an IP literal on the loopback interface (127.0.0.0/8, ::1, ::ffff:127.x.y.z)
    or the name `localhost`; False for anything else, other names included."""
    if not host:
        return False
    host = host.strip().strip("[]")
    if host.lower().rstrip(".") == LOCALHOST:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone id is not part of it
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_loopback_url(url: str | None) -> bool:
    """True when `url`'s host is loopback (see `is_loopback_host`)."""
    if not url:
        return False
    try:
        return is_loopback_host(urlsplit(url.strip()).hostname)
    except ValueError:  # e.g. an unbalanced '[' in the netloc
        return False
