"""pytest fixtures for projects that use tokens_app (needs pytest-django).

Enable with ``pytest_plugins = ["tokens_app.testing.pytest_plugin"]`` in your
top-level conftest.py:

- ``tokens_user``: a user (``tokens-user``, password ``TOKENS_USER_PASSWORD``);
- ``tokens_client``: a Django ``Client`` signed in as ``tokens_user``;
- ``tokens_admin_client``: a ``Client`` signed in as pytest-django's ``admin_user``;
- ``tokens_api_client``: a DRF ``APIClient`` signed in as ``tokens_user``.

All are signed in through ``tokens_app.testing.force_login``: real device
sessions and cookies, as the login page makes them.
"""

from __future__ import annotations

import pytest

from tokens_app.testing import force_login

TOKENS_USER_PASSWORD = "tokens-user-password"  # noqa: S105 (a test user's, for login-form tests)


@pytest.fixture
def tokens_user(db, django_user_model):
    username_field = django_user_model.USERNAME_FIELD
    return django_user_model._default_manager.create_user(
        **{username_field: "tokens-user"}, password=TOKENS_USER_PASSWORD
    )


@pytest.fixture
def tokens_client(tokens_user):
    from django.test import Client

    client = Client()
    force_login(client, tokens_user)
    return client


@pytest.fixture
def tokens_admin_client(admin_user):
    from django.test import Client

    client = Client()
    force_login(client, admin_user)
    return client


@pytest.fixture
def tokens_api_client(tokens_user):
    from rest_framework.test import APIClient

    client = APIClient()
    force_login(client, tokens_user)
    return client
