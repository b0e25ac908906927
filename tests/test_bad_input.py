"""Every bad token, in either cookie, means "not logged in": a login redirect
for the browser, 401 JSON for the API, never a 500. Malformed login bodies get 4xx."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from tests import forge
from tests.conftest import PASSWORD
from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tokens_app.tokens import verify_refresh

ACCESS, REFRESH = ACCESS_COOKIE, REFRESH_COOKIE
OTHER_KEY = "a-well-formed-key-that-is-simply-not-ours-0123456789"


@pytest.fixture
def real(alice) -> dict:
    """Genuine tokens for alice, from a real login."""
    client = APIClient()
    response = client.post("/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    access, refresh = client.cookies[ACCESS].value, client.cookies[REFRESH].value
    return {"access": access, "refresh": refresh, "sid": verify_refresh(refresh).sid, "user": alice}


def _claims(real: dict, kind: str, **overrides) -> dict:
    return forge.claims(real["user"], typ=kind, **{"sid": real["sid"], **overrides})


def _deactivate(real: dict, kind: str) -> str:
    user = real["user"]
    user.is_active = False
    user.save()
    return real[kind]


def _bump_version(real: dict, kind: str) -> str:
    call_command("force_logout", "alice", stdout=io.StringIO())
    return real[kind]


def _expired(real: dict, kind: str) -> str:
    now = int(time.time())
    return forge.token(_claims(real, kind, iat=now - 30 * 86400, exp=now - 15 * 86400), typ=kind)


OTHER = {"access": "refresh", "refresh": "access"}

# name -> (build the cookie value, expected API code for the access cookie, for the refresh cookie)
CASES: dict[str, tuple[Callable[[dict, str], str], str, str]] = {
    "garbage": (lambda real, kind: "garbage", "token_invalid", "token_invalid"),
    "truncated": (lambda real, kind: real[kind][:-5], "token_invalid", "token_invalid"),
    "header-only": (lambda real, kind: real[kind].split(".")[0], "token_invalid", "token_invalid"),
    "alg-none": (
        lambda real, kind: forge.token(_claims(real, kind), typ=kind, alg="none"),
        "token_invalid",
        "token_invalid",
    ),
    "wrongly-signed": (
        lambda real, kind: forge.token(_claims(real, kind), typ=kind, secret=OTHER_KEY),
        "token_invalid",
        "token_invalid",
    ),
    "hs512": (
        lambda real, kind: forge.token(_claims(real, kind), typ=kind, alg="HS512"),
        "token_invalid",
        "token_invalid",
    ),
    "expired": (_expired, "token_expired", "token_expired"),
    "wrong-type": (lambda real, kind: real[OTHER[kind]], "token_invalid", "token_invalid"),
    "oversized-10kb": (
        lambda real, kind: forge.token(_claims(real, kind, name="x" * 10_000), typ=kind),
        "token_invalid",
        "token_invalid",
    ),
    "odd-characters": (lambda real, kind: 'ey.J\u00e9"<>\\ !%{}[]', "token_invalid", "token_invalid"),
    "ver-as-string": (
        lambda real, kind: forge.token(_claims(real, kind, ver="0"), typ=kind),
        "token_invalid",
        "token_invalid",
    ),
    # Validly signed claims of the right type that no column or datetime can
    # hold: only a token we never issued looks like this; still a 401, not a 500.
    "sub-not-a-user-id": (
        lambda real, kind: forge.token(_claims(real, kind, sub="abc"), typ=kind),
        "token_invalid",
        "token_invalid",
    ),
    "sub-out-of-range": (
        lambda real, kind: forge.token(_claims(real, kind, sub="1" * 40), typ=kind),
        "token_invalid",
        "token_invalid",
    ),
    "sid-not-a-session-id": (
        lambda real, kind: forge.token(_claims(real, kind, sid="not-a-uuid"), typ=kind),
        "token_invalid",
        "token_invalid",
    ),
    "exp-after-year-9999": (
        lambda real, kind: forge.token(_claims(real, kind, exp=10**15), typ=kind),
        "token_invalid",
        "token_invalid",
    ),
    "missing-user": (
        lambda real, kind: forge.token(forge.claims(None, typ=kind, sid=real["sid"]), typ=kind),
        "token_revoked",
        "token_revoked",
    ),
    "deactivated-user": (_deactivate, "token_revoked", "user_inactive"),
    "stale-version": (_bump_version, "token_revoked", "token_revoked"),
}
# Valid signatures naming a user who may no longer sign in: the browser's
# access-cookie path answers them without the database unless immediate
# revocation is on (the default with a shared cache), see tokens_app/conf.py.
IDENTITY_CASES = {"missing-user", "deactivated-user", "stale-version"}


def _cookie_header(name: str, value: str) -> str:
    return f"{name}={value}"


def _assert_cleared(response, name: str) -> None:
    assert response.cookies[name].value == ""
    assert response.cookies[name]["max-age"] == 0


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_bad_cookie_sends_the_browser_to_login(real, settings, case, kind):
    if case in IDENTITY_CASES and kind == "access":
        settings.TOKENS_IMMEDIATE_REVOCATION = True
    name = ACCESS if kind == "access" else REFRESH
    value = CASES[case][0](real, kind)

    for page in ("/", "/accounts/sessions/"):
        response = Client().get(page, HTTP_COOKIE=_cookie_header(name, value))

        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={page}"
        _assert_cleared(response, name)


@pytest.mark.parametrize("case", CASES)
def test_bad_access_cookie_answers_the_api_401_json(real, case):
    build, code, _ = CASES[case]
    response = APIClient().get("/api/auth/me/", HTTP_COOKIE=_cookie_header(ACCESS, build(real, "access")))

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code


@pytest.mark.parametrize("case", CASES)
def test_bad_refresh_cookie_answers_the_api_401_json(real, case):
    build, _, code = CASES[case]
    response = APIClient().post(
        "/api/auth/refresh/", HTTP_COOKIE=_cookie_header(REFRESH, build(real, "refresh"))
    )

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    _assert_cleared(response, ACCESS)
    _assert_cleared(response, REFRESH)


def test_the_genuine_cookies_work_so_the_refusals_above_mean_something(real):
    assert Client().get("/", HTTP_COOKIE=_cookie_header(ACCESS, real["access"])).status_code == 200
    assert Client().get("/", HTTP_COOKIE=_cookie_header(REFRESH, real["refresh"])).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "__Host-access_token",
        "__Host-access_token=",
        "=;=;;",
        "__Host-access_token=a; __Host-access_token=b; __Host-refresh_token=c",
        '__Host-access_token="quoted"; __Host-refresh_token="\\"\\\\"',
        "__Host-refresh_token=\u00ff\u00fe; __Host-access_token=%00%01",
        "x" * 8000,
    ],
)
def test_malformed_cookie_headers_are_anonymous_not_errors(db, header):
    response = Client().get("/", HTTP_COOKIE=header)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
    api = APIClient().get("/api/auth/me/", HTTP_COOKIE=header)
    assert api.status_code == 401


# Malformed login bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ('{"username": "alice", ', "application/json", 400, "parse_error"),
        (b'{"username": "\xff\xfe"}', "application/json", 400, "parse_error"),
        ("[]", "application/json", 400, "invalid"),
        ('"alice"', "application/json", 400, "invalid"),
        ("{}", "application/json", 400, "invalid"),
        ("", "application/json", 400, "invalid"),
        ('{"username": "alice"}', "application/json", 400, "invalid"),
        ('{"username": ["alice"], "password": "x"}', "application/json", 400, "invalid"),
        ('{"username": "alice", "password": null}', "application/json", 400, "invalid"),
        ('{"username": "alice", "password": {"$ne": ""}}', "application/json", 400, "invalid"),
        ('{"username": "al\\u0000ice", "password": "x"}', "application/json", 400, "invalid"),
        ('{"username": "' + "a" * 10_000 + '", "password": "x"}', "application/json", 400, "invalid"),
        ('{"username": "alice", "password": "' + "p" * 5000 + '"}', "application/json", 400, "invalid"),
        ("username=alice&password=x", "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_malformed_api_login_body_gets_a_4xx_json_answer(alice, body, content_type, status, code):
    response = APIClient().generic("POST", "/api/auth/login/", body, content_type=content_type)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert ACCESS not in response.cookies


def test_api_login_refuses_get(db):
    response = APIClient().get("/api/auth/login/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"username": "alice"},
        {"password": PASSWORD},
        {"username": "al\x00ice", "password": PASSWORD},
        {"username": "a" * 10_000, "password": PASSWORD},
        {"username": ["alice", "bob"], "password": PASSWORD},
        {"username": "alice", "password": ""},
    ],
)
def test_malformed_login_form_is_shown_again_without_cookies(alice, data):
    response = Client().post("/accounts/login/", data)
    # Django's LoginView answers an invalid form by showing it again with errors.
    assert response.status_code == 200
    # The error is shown: a form-level alert, or a field marked invalid and
    # described by its error message (see templates/_form.html).
    assert b'role="alert"' in response.content or (
        b'aria-invalid="true"' in response.content and b'class="field-errors"' in response.content
    )
    assert ACCESS not in response.cookies
    assert REFRESH not in response.cookies


def test_login_form_with_a_non_utf8_body_is_not_a_server_error(alice):
    response = Client().generic(
        "POST",
        "/accounts/login/",
        b"username=\xff\xfe&password=\xff",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code < 500
    assert ACCESS not in response.cookies


# A header built to crash the parser --------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _with_header(real: dict, kind: str, header: bytes) -> str:
    _, payload, signature = real[kind].split(".")
    return f"{_b64(header)}.{payload}.{signature}"


HOSTILE_HEADERS = {
    # 1,339 bytes, under TOKENS_MAX_TOKEN_BYTES: RecursionError in json.loads.
    "nested-1000-arrays": b"[" * 1000,
    "nested-objects": b'{"":' * 500 + b"0" + b"}" * 500,
    "nested-in-a-header-field": b'{"alg":"HS256","kid":' + b"[" * 900 + b"]" * 900 + b"}",
    "huge-flat-header": b'{"alg":"HS256","pad":"' + b"x" * 2000 + b'"}',
    "not-utf8": b"\xff\xfe\xfd",
}
HOSTILE_PAGES = [
    "/",
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/password_reset/",
    "/admin/",
    "/no-such-page/",
    "/api/auth/me/",
    "/api/auth/csrf/",
]


@pytest.mark.parametrize("header", HOSTILE_HEADERS)
@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_deeply_nested_jwt_header_is_a_malformed_token_cleared_on_every_page(real, header, kind):
    name = ACCESS if kind == "access" else REFRESH
    value = _with_header(real, kind, HOSTILE_HEADERS[header])
    if header == "nested-1000-arrays":
        assert len(value) < 4096  # under the size limit: only the parser stood in the way

    for page in HOSTILE_PAGES:
        client = APIClient() if page.startswith("/api/") else Client()
        response = client.get(page, HTTP_COOKIE=_cookie_header(name, value))

        assert response.status_code < 500, (page, response.status_code)
        _assert_cleared(response, name)


def test_deeply_nested_jwt_header_refresh_is_401_malformed(real):
    value = _with_header(real, "refresh", HOSTILE_HEADERS["nested-1000-arrays"])
    response = APIClient().post("/api/auth/refresh/", HTTP_COOKIE=_cookie_header(REFRESH, value))

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    _assert_cleared(response, REFRESH)
