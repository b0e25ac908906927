"""Error pages in the site's style. 500 renders without the request context:
whatever broke may be what the context would need."""

from __future__ import annotations

from django.http import HttpResponseServerError
from django.template.loader import render_to_string
from django.views import defaults


def permission_denied(request, exception):
    return defaults.permission_denied(request, exception, template_name="403.html")


def page_not_found(request, exception):
    return defaults.page_not_found(request, exception, template_name="404.html")


def server_error(request):
    return HttpResponseServerError(render_to_string("500.html"))
