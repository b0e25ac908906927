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

from typing import TYPE_CHECKING

import pytest

from tokens_app.testing import force_login

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.test import Client
    from rest_framework.test import APIClient

TOKENS_USER_PASSWORD = "tokens-user-password"  # noqa: S105 (a test user's, for login-form tests)


@pytest.fixture
def tokens_user(db: None, django_user_model: type[AbstractBaseUser]) -> AbstractBaseUser:
    # What Django asks of any user model (USERNAME_FIELD, a manager with
    # create_user); django-stubs declares both only on AbstractUser.
    username_field = django_user_model.USERNAME_FIELD  # type: ignore[attr-defined]
    return django_user_model._default_manager.create_user(  # type: ignore[attr-defined]
        **{username_field: "tokens-user"}, password=TOKENS_USER_PASSWORD
    )


@pytest.fixture
def tokens_client(tokens_user: AbstractBaseUser) -> Client:
    from django.test import Client

    client = Client()
    force_login(client, tokens_user)
    return client


@pytest.fixture
def tokens_admin_client(admin_user: AbstractBaseUser) -> Client:
    from django.test import Client

    client = Client()
    force_login(client, admin_user)
    return client


@pytest.fixture
def tokens_api_client(tokens_user: AbstractBaseUser) -> APIClient:
    from rest_framework.test import APIClient

    client = APIClient()
    force_login(client, tokens_user)
    return client
