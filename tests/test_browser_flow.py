"""The browser's side of the site: login form, cookies, silent refresh, logout, admin."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils.http import urlencode

from tests.conftest import PASSWORD, login
from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tokens_app.models import LoginSession
from tokens_app.tokens import issue_access, verify_access, verify_refresh

ACCESS, REFRESH = ACCESS_COOKIE, REFRESH_COOKIE
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


def attributes(morsel) -> dict:
    """Every attribute of a Set-Cookie except the ones that differ between set and delete."""
    return {key: morsel[key] for key in morsel if key not in ("max-age", "expires")}


def assert_cleared(
    response, *, default_attributes: bool = True, names: tuple[str, str] = (ACCESS, REFRESH)
) -> None:
    """Both cookies deleted, with the attributes login sets them with by default."""
    for name in names:
        morsel = response.cookies[name]
        assert morsel.value == ""
        assert morsel["max-age"] == 0
        assert morsel["expires"] == EPOCH
        if not default_attributes:
            continue
        assert morsel["path"] == "/"
        assert morsel["domain"] == ""
        assert morsel["samesite"] == "Lax"
        assert morsel["secure"] is True
        assert morsel["httponly"] is True


def expire_access(client: Client, user) -> str:
    """Swap the access cookie for one that expired ten minutes ago, same session."""
    sid = verify_refresh(client.cookies[REFRESH].value).sid
    stale = issue_access(user, session_id=sid, now=datetime.now(UTC) - timedelta(minutes=10)).token
    client.cookies[ACCESS] = stale
    return stale


def csrf_client() -> Client:
    client = Client(enforce_csrf_checks=True)
    assert client.get("/accounts/login/").status_code == 200  # sets csrftoken
    return client


def csrf_token(client: Client) -> str:
    return client.cookies["__Host-csrftoken"].value


def csrf_login(client: Client, username: str = "alice") -> None:
    response = client.post(
        "/accounts/login/",
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_token(client)},
    )
    assert response.status_code == 302, response.content


# The login form ---------------------------------------------------------------------


def test_login_page_is_a_form_with_a_csrf_token(db):
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content
    assert "__Host-csrftoken" in response.cookies


def test_login_form_refuses_a_post_without_csrf_token(alice):
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert ACCESS not in response.cookies


def test_login_with_csrf_token_signs_in(alice):
    client = csrf_client()
    csrf_login(client)
    assert client.get("/").status_code == 200


def test_login_rotates_the_csrf_cookie_like_django_login_does(alice):
    client = csrf_client()
    planted = csrf_token(client)

    csrf_login(client)

    assert csrf_token(client) != planted
    refused = client.post("/accounts/logout/", {"csrfmiddlewaretoken": planted})
    assert refused.status_code == 403
    assert client.post("/accounts/logout/", {"csrfmiddlewaretoken": csrf_token(client)}).status_code == 302


def test_login_without_next_goes_home(alice):
    response = login(Client())
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.parametrize("where", ["form", "query"])
def test_login_redirects_to_a_safe_next(alice, where):
    client = Client()
    if where == "form":
        response = client.post(
            "/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/accounts/sessions/"}
        )
    else:
        response = client.post(
            "/accounts/login/?next=/accounts/sessions/", {"username": "alice", "password": PASSWORD}
        )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sessions/"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "http://testserver@evil.example/",
        "https:///evil.example/",
        "javascript:alert(1)",
        "/\\evil.example/",
    ],
)
def test_login_refuses_an_unsafe_next_and_goes_home(alice, target):
    response = Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_signing_in_over_bad_old_cookies_sets_fresh_ones(alice):
    client = Client()
    client.cookies[ACCESS] = "garbage"
    client.cookies[REFRESH] = "garbage"
    assert client.get("/accounts/login/").status_code == 200

    response = login(client)

    assert response.status_code == 302
    assert verify_access(response.cookies[ACCESS].value).username == "alice"
    assert verify_refresh(response.cookies[REFRESH].value)
    assert client.get("/").status_code == 200


def test_wrong_password_shows_the_form_again_without_cookies(alice):
    response = Client().post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert ACCESS not in response.cookies
    assert REFRESH not in response.cookies
    assert not LoginSession.objects.exists()


# Cookies ---------------------------------------------------------------------------------


def test_login_sets_both_cookies_with_exact_attributes(alice):
    response = login(Client())

    access, refresh = response.cookies[ACCESS], response.cookies[REFRESH]
    assert verify_access(access.value).username == "alice"
    assert verify_refresh(refresh.value).sid == verify_access(access.value).sid
    for morsel in (access, refresh):
        assert morsel["httponly"] is True
        assert morsel["samesite"] == "Lax"
        assert morsel["secure"] is True  # DEBUG is off in the tests
        assert morsel["path"] == "/"
        assert morsel["domain"] == ""
    # Max-Age is the token's remaining life; a second may tick between issue and set.
    assert 5 * 60 - 1 <= access["max-age"] <= 5 * 60
    assert 14 * 86400 - 1 <= refresh["max-age"] <= 14 * 86400


def test_cookie_max_age_follows_the_configured_lifetimes(alice, settings):
    settings.TOKENS_ACCESS_LIFETIME = timedelta(minutes=15)
    settings.TOKENS_REFRESH_LIFETIME = timedelta(days=7)
    response = login(Client())
    assert 899 <= response.cookies[ACCESS]["max-age"] <= 900
    assert 7 * 86400 - 1 <= response.cookies[REFRESH]["max-age"] <= 7 * 86400


def test_cookies_are_not_secure_while_debugging(alice, settings):
    settings.DEBUG = True
    response = login(Client())
    # Without Secure, no __Host- prefix (browsers would refuse the cookies).
    access, refresh = "access_token", "refresh_token"
    assert response.cookies[access]["secure"] == ""
    assert response.cookies[refresh]["secure"] == ""
    assert response.cookies[access]["httponly"] is True
    assert ACCESS not in response.cookies


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {"TOKENS_COOKIE_DOMAIN": "example.com", "TOKENS_REFRESH_COOKIE_PATH": "/accounts/"},
            id="domain-and-narrow-refresh-path",
        ),
        pytest.param({"TOKENS_COOKIE_SAMESITE": "Strict"}, id="strict"),
    ],
)
def test_cookies_are_deleted_with_the_attributes_they_were_set_with(alice, settings, overrides):
    for name, value in overrides.items():
        setattr(settings, name, value)
    client = Client()
    set_response = login(client)
    clear_response = client.post("/accounts/logout/")

    # A cookie Domain rules out the __Host- prefix for both names.
    access, refresh = (
        ("access_token", "refresh_token") if "TOKENS_COOKIE_DOMAIN" in overrides else (ACCESS, REFRESH)
    )
    assert {access, refresh} <= set(set_response.cookies)
    assert_cleared(clear_response, default_attributes=False, names=(access, refresh))
    for name in (access, refresh):
        assert attributes(clear_response.cookies[name]) == attributes(set_response.cookies[name])
    expected_domain = overrides.get("TOKENS_COOKIE_DOMAIN", "")
    expected_samesite = overrides.get("TOKENS_COOKIE_SAMESITE", "Lax")
    expected_refresh_path = overrides.get("TOKENS_REFRESH_COOKIE_PATH", "/")
    for morsel in (clear_response.cookies[access], clear_response.cookies[refresh]):
        assert morsel["domain"] == expected_domain
        assert morsel["samesite"] == expected_samesite
        assert morsel["secure"] is True
        assert morsel["httponly"] is True
    assert clear_response.cookies[access]["path"] == "/"
    assert clear_response.cookies[refresh]["path"] == expected_refresh_path


# The home page ------------------------------------------------------------------------------


def test_home_requires_login(db):
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_home_shows_who_you_are_and_when_your_tokens_expire(alice_client):
    response = alice_client.get("/")

    assert response.status_code == 200
    assert b"Hello, alice" in response.content
    access = verify_access(alice_client.cookies[ACCESS].value).expires_at
    refresh = verify_refresh(alice_client.cookies[REFRESH].value).expires_at
    assert f'datetime="{access.isoformat()}"'.encode() in response.content
    assert f'datetime="{refresh.isoformat()}"'.encode() in response.content
    assert "Cookie" in response["Vary"]


def test_authenticated_home_page_costs_no_database_query(alice_client, django_assert_num_queries):
    alice_client.get("/")  # warm whatever a shared cache may hold
    with django_assert_num_queries(0):
        response = alice_client.get("/")
    assert response.status_code == 200
    assert b"Hello, alice" in response.content
    assert ACCESS not in response.cookies  # no refresh happened either


# Silent refresh ---------------------------------------------------------------------------------


def test_expired_access_token_is_refreshed_silently_on_a_get(alice, alice_client):
    stale = expire_access(alice_client, alice)
    old_refresh = alice_client.cookies[REFRESH].value

    response = alice_client.get("/")

    assert response.status_code == 200
    assert b"Hello, alice" in response.content
    new_access, new_refresh = response.cookies[ACCESS].value, response.cookies[REFRESH].value
    assert new_access not in ("", stale)
    assert new_refresh not in ("", old_refresh)
    assert verify_access(new_access).username == "alice"
    assert 5 * 60 - 1 <= response.cookies[ACCESS]["max-age"] <= 5 * 60
    assert 14 * 86400 - 1 <= response.cookies[REFRESH]["max-age"] <= 14 * 86400
    for name in (ACCESS, REFRESH):
        assert response.cookies[name]["httponly"] is True
        assert response.cookies[name]["secure"] is True
        assert response.cookies[name]["samesite"] == "Lax"
        assert response.cookies[name]["path"] == "/"
    assert LoginSession.objects.get().rotations == 1


def test_missing_access_cookie_is_refreshed_silently(alice_client):
    del alice_client.cookies[ACCESS]
    response = alice_client.get("/")
    assert response.status_code == 200
    assert verify_access(response.cookies[ACCESS].value).username == "alice"


def test_a_refreshed_browser_uses_its_new_cookies_without_rotating_again(alice, alice_client):
    expire_access(alice_client, alice)
    alice_client.get("/")
    response = alice_client.get("/")
    assert response.status_code == 200
    assert ACCESS not in response.cookies
    assert LoginSession.objects.get().rotations == 1


def test_garbage_access_cookie_with_a_valid_refresh_cookie_is_refreshed(alice_client):
    alice_client.cookies[ACCESS] = "garbage"
    response = alice_client.get("/")
    assert response.status_code == 200
    assert verify_access(response.cookies[ACCESS].value).username == "alice"


def test_two_tabs_refreshing_with_the_same_old_cookies_both_stay_signed_in(alice, alice_client):
    expire_access(alice_client, alice)
    other_tab = Client()
    for name in (ACCESS, REFRESH):
        other_tab.cookies[name] = alice_client.cookies[name].value

    first = alice_client.get("/")
    second = other_tab.get("/")

    assert first.status_code == 200
    assert second.status_code == 200
    assert verify_access(second.cookies[ACCESS].value).username == "alice"
    assert LoginSession.objects.get().revoked_at is None


@pytest.mark.urls("tests.urls_echo")
def test_form_posted_with_an_expired_access_token_still_arrives(alice):
    client = csrf_client()
    csrf_login(client)
    expire_access(client, alice)

    response = client.post(
        "/echo/", {"message": "hello after five minutes", "csrfmiddlewaretoken": csrf_token(client)}
    )

    assert response.status_code == 200
    assert response.content == b"alice posted hello after five minutes"
    assert verify_access(response.cookies[ACCESS].value).username == "alice"


def test_password_change_posted_with_an_expired_access_token_is_applied(alice):
    client = csrf_client()
    csrf_login(client)
    expire_access(client, alice)

    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a brand new passphrase 7",
            "new_password2": "a brand new passphrase 7",
            "csrfmiddlewaretoken": csrf_token(client),
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_change/done/"
    alice.refresh_from_db()
    assert alice.check_password("a brand new passphrase 7")
    # This browser stays signed in; the old tokens of every device are void.
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("refresh_value", ["garbage", "a.b.c", ""])
def test_invalid_refresh_cookie_clears_both_cookies_and_redirects_to_login(
    alice, alice_client, refresh_value
):
    expire_access(alice_client, alice)
    alice_client.cookies[REFRESH] = refresh_value

    response = alice_client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
    assert_cleared(response)


def test_stale_refresh_token_clears_both_cookies_and_says_why(alice, alice_client):
    expire_access(alice_client, alice)
    call_command("force_logout", "alice", stdout=io.StringIO())

    response = alice_client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
    assert_cleared(response)
    page = alice_client.get(response["Location"])
    assert b"Your session has ended" in page.content


def test_an_expired_session_redirects_to_login(alice, alice_client):
    expire_access(alice_client, alice)
    LoginSession.objects.update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    response = alice_client.get("/")
    assert response.status_code == 302
    assert_cleared(response)
    assert b"Your session has expired" in alice_client.get(response["Location"]).content


# Logout ----------------------------------------------------------------------------------------


def test_logout_get_asks_for_confirmation_and_keeps_you_signed_in(alice_client):
    response = alice_client.get("/accounts/logout/")
    assert response.status_code == 200
    assert b"Log out?" in response.content
    assert b'method="post"' in response.content
    assert ACCESS not in response.cookies
    assert alice_client.get("/").status_code == 200
    assert LoginSession.objects.get().revoked_at is None


def test_logout_post_clears_cookies_and_ends_the_session(alice, alice_client):
    old_refresh = alice_client.cookies[REFRESH].value

    response = alice_client.post("/accounts/logout/")

    assert response.status_code == 302
    # Via the hop that says so (Clear-Site-Data drops this response's own cookies).
    assert response["Location"] == "/accounts/logout/done/"
    assert_cleared(response)
    assert LoginSession.objects.get().revoked_at is not None
    # A copy of the old refresh cookie is worthless now.
    thief = Client()
    thief.cookies[REFRESH] = old_refresh
    assert thief.get("/").status_code == 302


def test_logout_post_without_csrf_token_is_refused(alice):
    client = csrf_client()
    csrf_login(client)
    response = client.post("/accounts/logout/")
    assert response.status_code == 403
    assert ACCESS not in response.cookies
    assert LoginSession.objects.get().revoked_at is None


# The admin uses the same login ------------------------------------------------------------------


def test_anonymous_admin_visit_ends_on_the_site_login_page(db):
    response = Client().get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/?" + urlencode({"next": "/admin/"})
    assert response.status_code == 200
    assert b"Sign in" in response.content


def test_admin_login_page_redirects_unsafe_next_to_the_admin(db):
    response = Client().get("/admin/login/?next=https://evil.example/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"


def test_staff_signs_in_once_for_site_and_admin(make_user):
    make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    response = client.post("/accounts/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"})
    assert response["Location"] == "/admin/"
    admin = client.get("/admin/")
    assert admin.status_code == 200
    assert b"Site administration" in admin.content
    assert client.get("/").status_code == 200


def test_non_staff_user_is_sent_to_login_from_the_admin(alice_client):
    response = alice_client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert alice_client.get(response["Location"])["Location"] == "/accounts/login/?next=%2Fadmin%2F"


def test_admin_refreshes_an_expired_access_token_silently(make_user):
    root = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    login(client, "root")
    expire_access(client, root)

    response = client.get("/admin/")

    assert response.status_code == 200
    assert verify_access(response.cookies[ACCESS].value).username == "root"


def test_admin_sees_a_demotion_at_once_even_with_a_valid_access_token(make_user, django_user_model):
    make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    login(client, "root")
    assert client.get("/admin/").status_code == 200

    django_user_model.objects.filter(username="root").update(is_staff=False)

    assert client.get("/admin/").status_code == 302


# Deactivated users ---------------------------------------------------------------------------------


def test_deactivated_user_cannot_log_in(alice):
    alice.is_active = False
    alice.save()
    response = login(Client())
    assert response.status_code == 200
    assert ACCESS not in response.cookies
    assert not LoginSession.objects.exists()


def test_deactivated_user_cannot_refresh(alice, alice_client):
    expire_access(alice_client, alice)
    alice.is_active = False
    alice.save()

    response = alice_client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
    assert_cleared(response)
