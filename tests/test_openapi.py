"""The OpenAPI schema at /api/schema/ describes the API as it behaves."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

# What each operation can answer besides success (tokens_app/api.py).
EXPECTED_ERRORS = {
    ("/api/auth/csrf/", "get"): set(),
    ("/api/auth/login/", "post"): {"400", "401", "403", "429"},
    ("/api/auth/refresh/", "post"): {"401", "403", "429"},
    ("/api/auth/logout/", "post"): {"403"},
    ("/api/auth/logout-all/", "post"): {"401", "403"},
    ("/api/auth/me/", "get"): {"401"},
    ("/api/auth/sessions/", "get"): {"401"},
    ("/api/auth/sessions/{session_id}/", "delete"): {"401", "403", "404"},
    ("/api/auth/logout-others/", "post"): {"401", "403"},
    ("/api/auth/reauthenticate/", "post"): {"400", "401", "403", "429"},
    # Native apps (tokens_app/api_app.py): no CSRF, so no 403.
    ("/api/auth/app/login/", "post"): {"400", "401", "429"},
    ("/api/auth/app/refresh/", "post"): {"400", "401", "429"},
    ("/api/auth/app/logout/", "post"): {"400", "401"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_public_and_needs_no_cookies(db):
    response = APIClient(enforce_csrf_checks=True).get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_the_schema_generates_without_warnings_and_validates():
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=StringIO())


def test_every_api_operation_is_described_with_its_errors(schema):
    described = {
        (path, method): {status for status in operation["responses"] if status.startswith(("4", "5"))}
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }

    assert described == EXPECTED_ERRORS


def test_error_responses_share_one_shape(schema):
    for operations in schema["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error"
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"detail", "code"}


def test_the_cookie_authentication_scheme_is_described(schema):
    scheme = schema["components"]["securitySchemes"]["cookieAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "cookie", "__Host-access_token")
    assert "X-CSRFToken" in scheme["description"]
    me = schema["paths"]["/api/auth/me/"]["get"]
    # The cookie, or a native app's Authorization: Bearer header (tokens_app/bearer.py).
    assert me["security"] == [{"cookieAuth": []}, {"bearerAuth": []}]
    login = schema["paths"]["/api/auth/login/"]["post"]
    assert {"cookieAuth": []} not in login.get("security", [])


def test_login_request_and_response_bodies_are_described(schema):
    login = schema["paths"]["/api/auth/login/"]["post"]
    body = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert set(request["required"]) == {"username", "password"}
    ok = login["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schema["components"]["schemas"][ok.rsplit("/", 1)[1]]["required"]) == {
        "user",
        "access_expires",
        "refresh_expires",
    }


def test_an_unknown_api_url_answers_json_404(db):
    response = Client().get("/api/auth/sessions/not-a-uuid/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_another_users_session_is_a_404_with_a_code(alice, bob):
    from tests.conftest import PASSWORD

    client = APIClient()
    client.post("/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")
    other = APIClient()
    other.post("/api/auth/login/", {"username": "bob", "password": PASSWORD}, format="json")
    bobs = other.get("/api/auth/sessions/").json()[0]["id"]

    response = client.delete(f"/api/auth/sessions/{bobs}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/auth/login/", "/api/auth/refresh/", "/api/auth/logout/"])
def test_an_unknown_method_is_405_not_a_csrf_failure(db, path):
    response = APIClient(enforce_csrf_checks=True).generic("QUERY", path)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
