"""The device cookie: "this browser signed in to this account before".

Set at sign-in (flows), read by the login limits (throttling.py): a browser
that carries it for the account it signs in to is counted apart from
strangers, so a stranger's guesses cannot lock the owner out. Signed, and
naming the account only by a keyed hash, with a random id for the browser.
"""

from __future__ import annotations

import unicodedata
import uuid
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from .conf import app_settings

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

# The salt names the module the cookie was born in: changing it would forget
# every browser's cookie.
_DEVICE_SALT = "tokens_app.throttling.device"
_MAX_DEVICE_COOKIE = 512


def account_key(username: str) -> str:
    """The account a login attempt is for, as the user model would name it."""
    normalize = getattr(get_user_model(), "normalize_username", None)
    key = normalize(username) if normalize is not None else unicodedata.normalize("NFKC", username)
    return key.casefold() if app_settings.USERNAME_CASE_INSENSITIVE else key


def _account_mac(account: str) -> str:
    return salted_hmac(_DEVICE_SALT, account, algorithm="sha256").hexdigest()[:32]


def device_cookie_value(user: AbstractBaseUser) -> str:
    """The device cookie a successful sign-in of ``user`` sets: signed, naming
    the account only by a keyed hash, with a random id for this browser."""
    payload = {"a": _account_mac(account_key(user.get_username())), "d": uuid.uuid4().hex}
    return signing.dumps(payload, salt=_DEVICE_SALT)


def known_device(request: HttpRequest | None, username: str) -> str | None:
    """The id of this browser if it signed in to ``username``'s account before."""
    raw = request.COOKIES.get(app_settings.DEVICE_COOKIE, "") if request is not None else ""
    if not raw or len(raw) > _MAX_DEVICE_COOKIE:
        return None
    max_age = app_settings.DEVICE_COOKIE_LIFETIME
    try:
        payload = signing.loads(raw, salt=_DEVICE_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), str) for k in ("a", "d")):
        return None
    if not constant_time_compare(payload["a"], _account_mac(account_key(username))):
        return None
    return payload["d"]
