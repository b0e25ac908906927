"""Re-authentication for sensitive actions ("sudo mode").

Every token carries ``auth_time``, the last time the password was typed on
its device (the sign-in, or the "Confirm your password" page); rotation keeps
it. A sensitive action wants it within TOKENS_REAUTHENTICATION_TIMEOUT:

- views: ``@reauthentication_required`` (after ``login_required``). A GET goes
  to the confirm page and comes back to itself; a POST goes to the confirm
  page and then back to the page the form was on (Referer, same origin only),
  with a message to submit it again: nothing is done that was not confirmed.
- DRF: ``RecentlyAuthenticated``, a permission answering 403 with ``code``
  ``reauthentication_required``; the client confirms with
  ``POST /api/auth/reauthenticate/`` and retries.
- the admin: ``protect_admin(admin.site.urls)`` in the URLconf, active while
  TOKENS_REAUTHENTICATE_ADMIN is on (the default: the admin ends sessions and
  sets passwords).

Tokens issued before ``auth_time`` existed count as not recent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.urls import URLPattern, URLResolver, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _

from . import clock
from .conf import app_settings
from .request_attrs import token_claims
from .tokens import Claims


def is_recent(claims: Claims | None, *, now: datetime | None = None) -> bool:
    """Whether the password was typed within REAUTHENTICATION_TIMEOUT of ``now``."""
    if claims is None or claims.auth_time is None:
        return False
    confirmed = datetime.fromtimestamp(claims.auth_time, tz=UTC)
    return (now or clock.now()) - confirmed <= app_settings.REAUTHENTICATION_TIMEOUT


def _return_to(request: HttpRequest) -> str:
    """Where to come back after confirming: this URL for a GET; for a POST the
    page its form was on (a same-origin Referer), since a POST cannot be
    replayed by a redirect."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    # Nothing better: the site's home page.
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def reauthentication_required(
    view: Callable | None = None, *, when: Callable[[], bool] | None = None
) -> Callable:
    """Let ``view`` run only for a user who typed their password recently.

    ``when``: a callable read on each request; the check applies only while
    it returns True (how the admin's setting is honoured late).
    """

    def decorator(view_func: Callable) -> Callable:
        @wraps(view_func)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if (when is not None and not when()) or not request.user.is_authenticated:
                # Signed out: the view's own login_required (or the admin's
                # login redirect) answers, as it would without this check.
                return view_func(request, *args, **kwargs)
            if is_recent(token_claims(request)):
                return view_func(request, *args, **kwargs)
            if request.method not in ("GET", "HEAD"):
                messages.info(
                    request,
                    _("Nothing was changed yet: confirm your password, then submit the form again."),
                    fail_silently=True,
                )
            target = f"{reverse('reauthenticate')}?{urlencode({'next': _return_to(request)})}"
            return redirect(target)

        return wrapped

    return decorator(view) if view is not None else decorator


_ADMIN_UNGUARDED = frozenset({"login", "logout", "jsi18n"})


def protect_admin(urls: tuple) -> tuple:
    """``admin.site.urls`` with every view behind re-authentication while
    TOKENS_REAUTHENTICATE_ADMIN is on. Use: ``path("admin/", protect_admin(admin.site.urls))``."""

    def enabled() -> bool:
        return app_settings.REAUTHENTICATE_ADMIN

    def walk(patterns: Iterable[Any]) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns)
            elif isinstance(entry, URLPattern) and entry.name not in _ADMIN_UNGUARDED:
                entry.callback = reauthentication_required(entry.callback, when=enabled)

    walk(urls[0])
    return urls
