"""A form posted after the session ended survives the sign-in (WCAG 2.2.5).

When a POST is turned away to the login page because its session has ended
(expired, its maximum lifetime, revoked), ``capture`` keeps the submitted
fields in the cache, under an unguessable id that only this browser holds
(an HttpOnly cookie naming the entry, never the data). After the next
sign-in the user sees "We kept what you submitted" and confirms; the
confirmation is a POST of its own (CSRF checked), answered with a 307 so the
browser posts the fields again to where they were going (CSRF checked again
there, with the fresh token).

Rules: at most one entry per browser (a new one replaces it); files and
password-like fields (names containing "password", a view's
``sensitive_post_parameters``, password inputs the script names) are never
kept; oversized data is not kept; the entry lives TOKENS_KEPT_POST_TIMEOUT.
Only the user whose session ended may send it again; anyone else signing in
in this browser discards it. That user is known from the ended session's
signed token, or, once the browser has dropped the expired cookies, from the
device cookie a sign-in leaves (throttling.known_device: it names the
account by a keyed hash). Unknown user, cache down: nothing kept, and the
login page says so.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import resolve_url

from . import throttling
from .conf import app_settings
from .exceptions import TokenError
from .request_attrs import token_claims
from .tokens import Claims, verify_access, verify_refresh

logger = logging.getLogger(__name__)

# A hidden field the page script adds on submit: the names of the form's
# password inputs whatever they are called ("pin", "secret"...).
UNKEPT_FIELD = "_tokens_unkept"
# Why nothing was kept, in the cookie instead of an id (for the login page);
# "~" is never in an id (base64url).
TOO_LARGE, UNAVAILABLE = "~too_large", "~unavailable"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_NEVER_KEPT = {"csrfmiddlewaretoken", UNKEPT_FIELD}


@dataclass
class Entry:
    """What was posted, by whom, to where."""

    path: str
    fields: list[tuple[str, str]]
    owner: str | None  # the user's pk, when known
    device: str | None  # else the device cookie naming the account
    multipart: bool
    files_dropped: bool
    expires: float  # Unix time, as the cookie's Max-Age and the cache's timeout


def never_kept(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a view whose form is not worth keeping (it asks for a password
    and little else, such as "Confirm your password"): outermost decorator."""
    # A mark on the function object, as Django's csrf_exempt sets its own.
    view.tokens_never_kept = True  # type: ignore[attr-defined]
    return view


def cookie_name() -> str:
    return "__Host-kept_post" if app_settings.HOST_PREFIX_ALLOWED else "kept_post"


def _key(entry_id: str) -> str:
    # The cache sees a digest: a key listing gives no usable cookie value.
    return "tokens_app:kept:" + hashlib.sha256(entry_id.encode()).hexdigest()


def _set_cookie(response: HttpResponseBase, value: str) -> None:
    response.set_cookie(
        cookie_name(),
        value,
        max_age=int(app_settings.KEPT_POST_TIMEOUT.total_seconds()),
        path="/",
        secure=app_settings.COOKIE_SECURE,
        httponly=True,
        samesite=app_settings.COOKIE_SAMESITE,
    )


def clear_cookie(response: HttpResponseBase) -> None:
    response.delete_cookie(cookie_name(), path="/", samesite=app_settings.COOKIE_SAMESITE)


def _turned_away(request: HttpRequest, response: HttpResponseBase) -> bool:
    """A form POST answered with the redirect to the login page."""
    if request.method != "POST" or response.status_code not in (301, 302, 303):
        return False
    content_type = request.content_type or ""
    if content_type not in _FORM_TYPES:
        return False
    login_path = urlsplit(resolve_url(settings.LOGIN_URL)).path
    if request.path == login_path:
        return False
    return urlsplit(response.get("Location", "")).path == login_path


def _signed_in_still(request: HttpRequest, response: HttpResponseBase) -> bool:
    # A signed-in user sent to the login page by a permission check has a
    # live session: nothing ended. A session found dead in the database
    # (live_session_required) clears the cookies on this response.
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    morsel = response.cookies.get(app_settings.ACCESS_COOKIE)
    return morsel is None or morsel.value != ""


def _claims_of_ended(raw: str | None, verify: Any) -> Claims | None:
    """The claims of a token of ours, however long expired: its signature is
    checked at its own issue time (iat read from the payload first)."""
    if not raw or len(raw) > app_settings.MAX_TOKEN_BYTES:
        return None
    try:
        segment = raw.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        issued = datetime.fromtimestamp(int(payload["iat"]), tz=UTC)
        return verify(raw, now=issued)
    except (IndexError, KeyError, TypeError, ValueError, OverflowError, binascii.Error, TokenError):
        return None


def _owner(request: HttpRequest) -> tuple[str | None, str | None]:
    claims = token_claims(request)
    claims = claims or _claims_of_ended(request.COOKIES.get(app_settings.REFRESH_COOKIE), verify_refresh)
    claims = claims or _claims_of_ended(request.COOKIES.get(app_settings.ACCESS_COOKIE), verify_access)
    if claims is not None:
        return claims.sub, None
    return None, request.COOKIES.get(app_settings.DEVICE_COOKIE) or None


def _keepable(request: HttpRequest) -> list[tuple[str, str]]:
    match = getattr(request, "resolver_match", None)
    if getattr(getattr(match, "func", None), "tokens_never_kept", False):
        return []
    sensitive = getattr(request, "sensitive_post_parameters", ())
    if sensitive == "__ALL__":
        return []
    unkept = {name for value in request.POST.getlist(UNKEPT_FIELD) for name in value.split(",")}
    return [
        (name, value)
        for name, values in request.POST.lists()
        if name not in _NEVER_KEPT
        and name not in unkept
        and name not in sensitive
        and "password" not in name.lower()
        for value in values
    ]


def capture(request: HttpRequest, response: HttpResponseBase) -> None:
    """TokenAuthenticationMiddleware's hook: keep a POST turned away to sign in."""
    if not _turned_away(request, response) or _signed_in_still(request, response):
        return
    owner, device = _owner(request)
    try:
        fields, files_dropped = _keepable(request), bool(request.FILES)
    except (SuspiciousOperation, MultiPartParserError, OSError, ValueError):
        return  # a body Django could not parse: the view said so already
    if not fields or (owner is None and device is None):
        return
    if sum(len(name) + len(value) for name, value in fields) > app_settings.KEPT_POST_MAX_BYTES:
        _set_cookie(response, TOO_LARGE)
        return
    entry = Entry(
        path=request.get_full_path(),
        fields=fields,
        owner=owner,
        device=device,
        multipart=request.content_type == "multipart/form-data",
        files_dropped=files_dropped,
        expires=time.time() + app_settings.KEPT_POST_TIMEOUT.total_seconds(),
    )
    entry_id = secrets.token_urlsafe(32)
    try:
        previous = request.COOKIES.get(cookie_name(), "")
        if previous and not previous.startswith("~"):
            cache.delete(_key(previous))  # at most one per browser
        cache.set(_key(entry_id), entry, timeout=int(app_settings.KEPT_POST_TIMEOUT.total_seconds()))
    except Exception:
        logger.warning("kept post not stored: cache unavailable", exc_info=True)
        _set_cookie(response, UNAVAILABLE)
        return
    logger.info("kept post path=%s fields=%d", request.path, len(fields))
    _set_cookie(response, entry_id)


def _load(request: HttpRequest) -> tuple[str, Entry | None]:
    """The browser's entry id and entry (None: none, gone, or the cache down)."""
    entry_id = request.COOKIES.get(cookie_name(), "")
    if not entry_id or entry_id.startswith("~") or len(entry_id) > 64:
        return entry_id, None
    try:
        entry = cache.get(_key(entry_id))
    except Exception:
        logger.warning("kept post not read: cache unavailable", exc_info=True)
        return entry_id, None
    return entry_id, entry if isinstance(entry, Entry) else None


def _forget(entry_id: str) -> None:
    try:
        cache.delete(_key(entry_id))
    except Exception:
        logger.warning("kept post not deleted: cache unavailable (it expires)", exc_info=True)


def notice(request: HttpRequest) -> dict[str, Any] | None:
    """For the login page: what became of the form posted after the session ended."""
    entry_id, entry = _load(request)
    if entry is not None:
        return {"kept": True, "files_dropped": entry.files_dropped}
    if entry_id in (TOO_LARGE, UNAVAILABLE):
        return {"kept": False, "too_large": entry_id == TOO_LARGE}
    return None


def _same_user(request: HttpRequest, entry: Entry, user: AbstractBaseUser) -> bool:
    if entry.owner is not None:
        return entry.owner == str(user.pk)
    # The device cookie of this request is the one the POST came with (the
    # sign-in's new one is on its way out): it must name this account.
    sent = request.COOKIES.get(app_settings.DEVICE_COOKIE)
    return bool(sent) and sent == entry.device and bool(throttling.known_device(request, user.get_username()))


def after_sign_in(request: HttpRequest, response: HttpResponse, user: AbstractBaseUser) -> HttpResponse:
    """The login's answer: to the kept form if it is ``user``'s; anyone
    else's is discarded."""
    entry_id, entry = _load(request)
    if not entry_id:
        return response
    if entry is None or not _same_user(request, entry, user):
        if entry is not None:
            logger.info("kept post discarded: another user signed in")
            _forget(entry_id)
        clear_cookie(response)
        return response
    entry.owner, entry.device = str(user.pk), None  # bound to the account now
    remaining = int(entry.expires - time.time())
    if remaining < 1:
        clear_cookie(response)
        return response
    try:
        cache.set(_key(entry_id), entry, timeout=remaining)
    except Exception:
        logger.warning("kept post not rebound: cache unavailable", exc_info=True)
        clear_cookie(response)
        return response
    response["Location"] = resolve_url("kept_post")
    return response


def pending(request: HttpRequest) -> Entry | None:
    """The signed-in user's kept form in this browser, if any."""
    _, entry = _load(request)
    if entry is None or entry.owner != str(request.user.pk):
        return None
    return entry


def take(request: HttpRequest) -> Entry | None:
    """``pending``, and forgotten: it is being sent (or discarded) now."""
    entry = pending(request)
    if entry is not None:
        _forget(request.COOKIES[cookie_name()])
    return entry
