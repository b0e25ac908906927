"""Error pages in the site's style. 500 renders without the request context:
whatever broke may be what the context would need."""

from __future__ import annotations

from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views import defaults


def permission_denied(request, exception):
    return defaults.permission_denied(request, exception, template_name="403.html")


def _is_api(request) -> bool:
    # API clients get the API's JSON error shape, also for URLs no view matched.
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception, template_name="404.html")


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "A server error occurred.", "code": "error"}, status=500)
    return HttpResponseServerError(render_to_string("500.html"))


def csrf_failure(request, reason=""):
    """A form refused by the CSRF check, explained in the site's style.

    Django's own page is a bare "CSRF verification failed" for developers; a
    person needs to know what to do. The reason stays in the log (Django's
    CSRF middleware logs it on django.security.csrf), never on the page.
    """
    return render(request, "403_csrf.html", status=403)
