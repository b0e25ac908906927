"""Keep credentials out of the logs: gunicorn's access log and Django's error log.

Two kinds of secret can reach a log line:

- what a URL carries: the token half of a password-reset link
  (``/accounts/reset/<uidb64>/<token>/``) in whatever form the link was
  opened (no trailing slash, ``%2F`` for a slash, any percent-encoding Django
  decodes before routing), and anything shaped like a JWT;
- what the request carried, when an error message or a traceback quotes it:
  its cookies (the access and refresh tokens among them), its Authorization
  header, the password fields it posted.

``redact()`` masks the first kind in any text; ``RedactingFormatter`` (the
LOGGING formatter of ``django.request``) masks both. This module imports no
Django at load time: gunicorn.conf.py uses it before Django is set up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

MASK = "********"

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# A reset link once percent-decoded: /reset/<uid>/ and then the secret part.
_RESET = re.compile(r"(?is)(/reset/[^/?#]*)(/[^?#]*)?([?#].*)?")
_WORD = re.compile(r"[^\s\"'<>]+")
# Characters left as they are when a decoded URL is written back: no spaces,
# no control characters (a decoded %0A must not start a forged log line).
_URL_SAFE = "/:@!$&'()*+,;=-._~?#[]%"
_MIN_SECRET = 6  # shorter values (a "1" posted as a password) would mask half the line


def _decoded(word: str) -> str:
    # Up to three rounds: a link encoded twice (%252F) is still a link once a
    # proxy or Django has decoded it once.
    for _ in range(3):
        again = unquote(word)
        if again == word:
            break
        word = again
    return word


def _mask_reset_link(match: re.Match) -> str:
    head, rest, _query = match.groups()
    if not rest or rest == "/":
        return match.group(0)  # /reset/done/, or a uid alone: nothing secret
    # The token and whatever follows it, query included.
    return f"{head}/{MASK}" + ("/" if rest.endswith("/") else "")


def _redact_word(match: re.Match) -> str:
    word = match.group(0)
    decoded = _decoded(word)
    if "/reset/" not in decoded.lower():
        return word
    masked = _RESET.sub(_mask_reset_link, decoded)
    return quote(masked, safe=_URL_SAFE) if masked != decoded else word


def redact(text: str, *, secrets: Iterable[str] = ()) -> str:
    """``text`` without reset-link tokens, JWTs or any of ``secrets``."""
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _JWT.sub(MASK, text)
    if "reset" in text.lower() or "%" in text:
        text = _WORD.sub(_redact_word, text)
    return text


_SECRET_FIELD = re.compile(r"(?i)pass|token|secret|key|auth")


def request_secrets(request) -> list[str]:
    """The values a request carried that a log line must never show."""
    if request is None:
        return []
    secrets = list(getattr(request, "COOKIES", {}).values())
    meta = getattr(request, "META", {})
    secrets += [meta.get("HTTP_AUTHORIZATION", ""), meta.get("HTTP_COOKIE", "")]
    # Only a body Django has already parsed: a formatter must not read one.
    post = request.__dict__.get("_post")
    if post is not None:
        sensitive = getattr(request, "sensitive_post_parameters", ())
        for name in post:
            if sensitive == "__ALL__" or name in sensitive or _SECRET_FIELD.search(name):
                secrets += post.getlist(name)
    return secrets


class RedactingFormatter(logging.Formatter):
    """A formatter whose lines (message and traceback) carry no credential."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), secrets=request_secrets(getattr(record, "request", None)))
