"""The site's URLs plus what the client-surface tests need: a small
django-ninja API (tokens_app/ninja.py) with sync and async operations, and
an async Django view that awaits ``request.auser()``."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from ninja import NinjaAPI

from authproject.urls import urlpatterns as site_urlpatterns
from tokens_app.ninja import AsyncBearerAuth, AsyncCookieAuth, BearerAuth, CookieAuth, register

api = NinjaAPI(urls_namespace="tests_ninja", auth=[CookieAuth(), BearerAuth()], docs_url=None)
register(api)
ASYNC_AUTH = [AsyncCookieAuth(), AsyncBearerAuth()]


def _who(request: HttpRequest) -> dict:
    return {"id": request.auth.pk, "username": request.auth.get_username()}


@api.get("/me")
def me(request: HttpRequest) -> dict:
    return _who(request)


@api.post("/notes")
def add_note(request: HttpRequest) -> dict:
    return {**_who(request), "added": True}


@api.get("/staff")
def staff(request: HttpRequest) -> dict:
    # Anything beyond id and username loads the user (and re-checks the token).
    return {"is_staff": request.auth.is_staff}


@api.get("/async/me", auth=ASYNC_AUTH)
async def ame(request: HttpRequest) -> dict:
    return _who(request)


@api.post("/async/notes", auth=ASYNC_AUTH)
async def aadd_note(request: HttpRequest) -> dict:
    return {**_who(request), "added": True}


async def whoami(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    return JsonResponse({"authenticated": user.is_authenticated, "username": user.get_username()})


async def whoami_twice(request: HttpRequest) -> JsonResponse:
    """Asks twice, both ways: the user is resolved once."""
    first = await request.auser()
    again = await request.auser()
    return JsonResponse({"same": first is again, "username": first.get_username()})


urlpatterns = [
    path("ninja/", api.urls),
    path("async/whoami/", whoami),
    path("async/whoami-twice/", whoami_twice),
    *site_urlpatterns,
]
