"""The site's URLs plus one test-only form target, for proving that a form
posted after the access token expired still arrives."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path

from authproject.urls import urlpatterns as site_urlpatterns


@login_required
def echo(request):
    return HttpResponse(f"{request.user.get_username()} posted {request.POST.get('message', '')}")


urlpatterns = [path("echo/", echo), *site_urlpatterns]
