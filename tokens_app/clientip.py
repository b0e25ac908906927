"""Which address a request came from, for the per-client limits and the audit trail.

Behind a proxy every request arrives from the proxy: REMOTE_ADDR is the same
for every user, and a limit counted on it is one limit for the whole site.
With TOKENS_CLIENT_IP_HEADER (the header your own proxy writes, such as
X-Forwarded-For) and TOKENS_TRUSTED_PROXY_COUNT = N, the N-th entry from the
right is taken: the entries to its left were sent by the client and prove
nothing. Without the setting, headers are ignored, so a forged
X-Forwarded-For changes nothing.
"""

from __future__ import annotations

import ipaddress
import logging

from django.http import HttpRequest

from .conf import app_settings

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: REMOTE_ADDR, or the address our own proxy wrote.

    A header too short or not an address falls back to REMOTE_ADDR.
    """
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    header = app_settings.CLIENT_IP_HEADER
    if not header:
        return remote
    hops = [part.strip() for part in request.META.get(header, "").split(",") if part.strip()]
    count = app_settings.TRUSTED_PROXY_COUNT
    if count < 1 or len(hops) < count:
        return remote
    candidate = hops[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        logger.warning("unusable client address in %s, using REMOTE_ADDR", header)
        return remote


def bucket(ip: str) -> str:
    """What the per-client limits count for ``ip``: the address, or its /64 for
    IPv6 (one IPv6 client usually holds a whole /64)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        prefix = app_settings.THROTTLE_IPV6_PREFIX
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    return str(address)


def ip_identity(request: HttpRequest | None) -> str:
    """The bucket of the request's client address."""
    return bucket(client_ip(request) or "unknown")
