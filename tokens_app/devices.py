"""A short, human description of the device behind a request."""

from __future__ import annotations

import ipaddress

_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Headless Chrome"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-requests/", "Python requests"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe(user_agent: str) -> str:
    """``"Firefox on Linux"`` from a User-Agent header; never longer than 200 characters."""
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return (browser or system or user_agent.strip() or "Unknown device")[:200]


def network_of(ip: str | None, *, ipv6_prefix: int = 48) -> str:
    """The network a client address belongs to: its /24 (IPv4) or /48 (IPv6,
    or ``ipv6_prefix``).

    A home or office keeps its network while DHCP moves it within it, so a
    sign-in from the same browser on the same network is "a device used
    before". Empty for an unknown or unparsable address.
    """
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else ipv6_prefix
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
