"""Test helpers for projects that use tokens_app (public API).

Sign a test client in, as ``Client.force_login()`` does for Django sessions,
but with the real thing: a device session started by ``flows.log_in`` and its
access and refresh cookies set on the client, exactly as the login page sets
them. Works for Django's ``Client`` and DRF's ``APIClient``, with or without
``SessionMiddleware``::

    from tokens_app.testing import force_login

    def test_dashboard(client, django_user_model):
        user = django_user_model.objects.create_user("alice", password="...")
        force_login(client, user)
        assert client.get("/dashboard/").status_code == 200

pytest fixtures (``tokens_client``, ``tokens_admin_client``,
``tokens_api_client``): add ``pytest_plugins = ["tokens_app.testing.pytest_plugin"]``
to your top-level conftest.py.

In projects that keep ``SessionMiddleware``, Django's own ``client.login()``,
``client.force_login()`` and pytest-django's ``admin_client`` work too: the
``user_logged_in`` receiver starts a device session and the client's next
request collects its cookies.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpResponse
from django.test import Client, RequestFactory

from tokens_app import flows
from tokens_app.cookies import set_auth_cookies

__all__ = ["force_login"]


def force_login(client: Client, user: AbstractBaseUser, **request_meta: Any) -> flows.TokenPair:
    """Sign ``client`` in as ``user`` (no password needed) and return the token pair.

    ``request_meta`` is the login request's META, as for ``client.post``:
    ``HTTP_USER_AGENT="..."`` or ``REMOTE_ADDR="..."`` name the device the
    session list shows. Calling it again starts a second device session.
    """
    request = RequestFactory().post("/", **request_meta)
    pair = flows.log_in(request, user)
    response = HttpResponse()
    set_auth_cookies(response, pair)
    client.cookies.update(response.cookies)
    return pair
