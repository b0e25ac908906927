"""What a token of ours holds and looks like, checked without any key.

``Claims`` is the verified content of a token. The header and claim checks
here need no key and no database: ``tokens.py`` runs the header check before
it looks for a key (a hostile header is refused unparsed), and the claim
check after the signature has passed. This module does not import PyJWT.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from .conf import app_settings
from .exceptions import TokenError

_T = TypeVar("_T")

TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds
_MAX_HEADER_CHARS = 512
_MAX_HEADER_FIELDS = 8
# Whatever a hostile segment makes the decoders raise: each means "malformed".
PARSE_ERRORS = (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError)


@dataclass(frozen=True)
class Claims:
    """The verified content of a token."""

    sub: str
    ver: int
    typ: str
    sid: str
    iat: int
    exp: int
    jti: str
    username: str
    # Unix time of the last real sign-in (password typed); None in tokens
    # issued before it existed, which count as not recent.
    auth_time: int | None = None
    # Refresh tokens: Unix time of the session's maximum lifetime (``sxp``),
    # so an expired token can tell "the session reached its end" from idleness.
    session_end: int | None = None

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, tz=UTC)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: Claims


def _b64_json(segment: str) -> dict[str, Any]:
    value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


@functools.lru_cache(maxsize=64)
def header(segment: str) -> dict[str, Any]:
    """The parsed header segment of a token; one of PARSE_ERRORS if it is not ours to read.

    Every token signed with one key has the same header segment: parsed once.
    Only what parses is cached (lru_cache keeps no exceptions); callers must
    not modify the dict.
    """
    # The header is read before any signature is checked, so it is bounded
    # first: a short segment, then a flat object of short scalars. Ours is
    # {"alg","kid","typ"} in ~70 characters; 1,000 "[" would otherwise make
    # json.loads raise RecursionError, a 500 on every page.
    if len(segment) > _MAX_HEADER_CHARS:
        raise ValueError("header too long")
    parsed = _b64_json(segment)
    if len(parsed) > _MAX_HEADER_FIELDS or not all(
        isinstance(value, str | int | float | bool) or value is None for value in parsed.values()
    ):
        raise ValueError("header not a flat object")
    return parsed


def is_malformed(raw: str | None) -> bool:
    """True for a cookie value that can never be a token of ours, whatever
    the key: too long, foreign characters, or a header that does not parse
    (see ``header``). Cheap, and with no signature check."""
    if not raw or len(raw) > app_settings.MAX_TOKEN_BYTES or not TOKEN_CHARS.match(raw):
        return True
    try:
        header(raw.partition(".")[0])
    except PARSE_ERRORS:
        return True
    return False


def _typed(payload: dict[str, Any], name: str, kind: type[_T]) -> _T:
    value = payload.get(name)
    # bool is an int subclass; a JSON true is never a version or a time.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TokenError(f"claim {name} has the wrong type")
    return value


def claims_from(payload: dict[str, Any]) -> Claims:
    """The Claims of a signed payload, or TokenError if a claim has the wrong type or range."""
    name = payload.get("name")
    claims = Claims(
        sub=_typed(payload, "sub", str),
        ver=_typed(payload, "ver", int),
        typ=_typed(payload, "typ", str),
        sid=_typed(payload, "sid", str),
        iat=_typed(payload, "iat", int),
        exp=_typed(payload, "exp", int),
        jti=_typed(payload, "jti", str),
        username=name if isinstance(name, str) else "",
        auth_time=_typed(payload, "auth_time", int) if "auth_time" in payload else None,
        session_end=_typed(payload, "sxp", int) if "sxp" in payload else None,
    )
    # A claim of the right type can still hold what no datetime, session id or
    # user id column can (exp=10**15, sid="x", sub="abc"): refused here as an
    # invalid token, not met later as a 500 in a view or a query.
    times = (claims.iat, claims.exp, claims.auth_time, claims.session_end)
    if not all(0 <= t <= _MAX_TIMESTAMP for t in times if t is not None):
        raise TokenError("time out of range")
    try:
        uuid.UUID(claims.sid)
        pk = get_user_model()._meta.pk
        assert pk is not None  # every concrete model has one
        pk.run_validators(pk.to_python(claims.sub))
    except (ValueError, ValidationError):
        raise TokenError("sub or sid out of range") from None
    return claims
