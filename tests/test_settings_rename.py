"""TOKENS_ALGORITHM was renamed TOKENS_REFRESH_ALGORITHM (it only ever chose the
refresh token's algorithm): the old name keeps working, with a warning, until a
later release drops it."""

from __future__ import annotations

import warnings

import pytest
from django.core.checks import run_checks
from django.test import Client

from tests import forge
from tests.conftest import login


def _signed_in_algorithms(client: Client) -> tuple[str, str]:
    """The ``alg`` of the access and refresh tokens a sign-in gave ``client``."""
    cookies = client.cookies
    access, refresh = (
        forge.unb64_json(cookies[name].value.split(".")[0])["alg"]
        for name in (forge.ACCESS_COOKIE, forge.REFRESH_COOKIE)
    )
    return access, refresh


def test_the_refresh_algorithm_is_chosen_by_its_own_name(settings, alice):
    settings.TOKENS_REFRESH_ALGORITHM = "HS384"
    client = Client()

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert login(client).status_code == 302

    # authproject sets TOKENS_ACCESS_ALGORITHM (from ACCESS_TOKEN_ALGORITHM).
    assert _signed_in_algorithms(client) == ("HS256", "HS384")


def test_the_access_algorithm_follows_the_refresh_one_when_unset(settings, alice):
    del settings.TOKENS_ACCESS_ALGORITHM
    settings.TOKENS_REFRESH_ALGORITHM = "HS384"
    client = Client()

    assert login(client).status_code == 302

    assert _signed_in_algorithms(client) == ("HS384", "HS384")


def test_the_old_name_is_still_read_with_a_deprecation_warning(settings, alice):
    del settings.TOKENS_ACCESS_ALGORITHM
    settings.TOKENS_ALGORITHM = "HS384"
    client = Client()

    with pytest.warns(DeprecationWarning, match="rename it TOKENS_REFRESH_ALGORITHM"):
        assert login(client).status_code == 302

    assert _signed_in_algorithms(client) == ("HS384", "HS384")


def test_the_new_name_wins_over_the_old_one(settings, alice):
    settings.TOKENS_ALGORITHM = "HS512"
    settings.TOKENS_REFRESH_ALGORITHM = "HS384"
    client = Client()

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert login(client).status_code == 302

    assert _signed_in_algorithms(client) == ("HS256", "HS384")


def test_check_w009_asks_for_the_rename(settings):
    settings.TOKENS_ALGORITHM = "HS256"

    found = [m for m in run_checks() if m.id == "tokens_app.W009"]

    assert len(found) == 1
    assert "TOKENS_ALGORITHM" in found[0].msg
    assert found[0].hint == "Rename TOKENS_ALGORITHM to TOKENS_REFRESH_ALGORITHM in your settings."


def test_check_w009_is_silent_without_the_old_name():
    assert "tokens_app.W009" not in {m.id for m in run_checks()}


def test_check_w009_also_reports_an_old_name_left_beside_the_new_one(settings):
    # Ignored then, which a reader of the settings would not guess.
    settings.TOKENS_ALGORITHM = "HS512"
    settings.TOKENS_REFRESH_ALGORITHM = "HS256"

    assert "tokens_app.W009" in {m.id for m in run_checks()}
