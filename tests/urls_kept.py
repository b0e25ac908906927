"""The site's URLs plus test-only form targets of a project's own, behind
``login_required``: what a form posted after the session ended delivers."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path
from django.views.decorators.debug import sensitive_post_parameters

from authproject.urls import urlpatterns as site_urlpatterns


@login_required
def note(request: HttpRequest) -> HttpResponse:
    """Echoes who posted what (every field but the CSRF token) and the files' names."""
    fields = {name: request.POST.getlist(name) for name in request.POST if name != "csrfmiddlewaretoken"}
    body = {"user": request.user.get_username(), "fields": fields, "files": sorted(request.FILES)}
    return HttpResponse(json.dumps(body), content_type="application/json")


COMPOSE = """{% extends "tokens_app/base.html" %}{% block title %}Compose{% endblock %}
{% block content %}<section class="card"><h1>Compose</h1>
<form method="post" action="/note/">{% csrf_token %}
<div class="field"><label for="message">Message</label><textarea id="message" name="message"></textarea></div>
<div class="field"><label for="pin">PIN</label><input type="password" id="pin" name="pin"></div>
<button type="submit">Send</button></form></section>{% endblock %}"""


@login_required
def compose(request: HttpRequest) -> HttpResponse:
    """A page of a project's own with a form posting to ``note``."""
    return HttpResponse(engines["django"].from_string(COMPOSE).render({}, request))


urlpatterns = [
    path("compose/", compose),
    path("note/", note),
    path("pin/", sensitive_post_parameters("pin")(note)),
    path("secret/", sensitive_post_parameters()(note)),
    *site_urlpatterns,
]
