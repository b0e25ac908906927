"""Public names for HMAC keys (the ``kid`` header), computed without Django,
so the site (keys.py) and services verifying its tokens (verifier.py) name a
secret alike."""

from __future__ import annotations

import base64
import hashlib
import hmac


def hmac_key_id(secret: str | bytes) -> str:
    """A stable public name for an HMAC key: an HMAC of a fixed label, never the key itself."""
    raw = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(raw, b"tokens_app key id", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode()
