"""The script's endpoints: "Stay signed in" and the kept form's resubmission."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from tokens_app import flows, kept, throttling
from tokens_app.cookies import set_auth_cookies
from tokens_app.exceptions import TokenError

from .signin import _safe_next


@require_POST
@csrf_protect
@never_cache
@login_not_required
def stay_signed_in(request: HttpRequest) -> HttpResponse:
    """ "Stay signed in": a refresh now, moving the idle limit back (never
    past the maximum lifetime). JSON for the script; a redirect back without it."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        pair = flows.refresh_request(request)
    except (TokenError, throttling.RateLimited):
        if wants_json:
            return JsonResponse({"signed_in": False}, status=401)
        return redirect("login")
    if wants_json:
        claims = pair.refresh.claims
        response: HttpResponse = JsonResponse(
            {"signed_in": True, "ends": claims.exp, "session_end": claims.session_end}
        )
    else:
        response = HttpResponseRedirect(_safe_next(request))
    set_auth_cookies(response, pair)
    return response


@csrf_protect
@never_cache
@login_required
def kept_post(request: HttpRequest) -> HttpResponse:
    """GET: "We kept what you submitted", to confirm. POST (the confirmation):
    a 307 to where the form was going, so the browser posts it again there."""
    if request.method == "POST":
        entry = kept.take(request)
        if entry is None or not url_has_allowed_host_and_scheme(
            entry.path, {request.get_host()}, require_https=request.is_secure()
        ):
            return redirect("home")
        response: HttpResponse = HttpResponseRedirect(entry.path, preserve_request=True)
        kept.clear_cookie(response)
        return response
    entry = kept.pending(request)
    if entry is None:
        messages.info(request, _("Nothing you submitted is waiting to be sent."))
        return redirect("home")
    return render(request, "tokens_app/kept_post.html", {"entry": entry})


@require_POST
@csrf_protect
@never_cache
@login_required
def discard_kept_post(request: HttpRequest) -> HttpResponse:
    if kept.take(request) is not None:
        messages.info(request, _("What you submitted was discarded."))
    response = redirect("home")
    kept.clear_cookie(response)
    return response
