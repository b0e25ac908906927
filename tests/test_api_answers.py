"""One definition of each API answer (tokens_app/serializers.py): the API
serializes with the serializers the OpenAPI schema documents, and a user's id
is whatever its primary key is (a number, or a string for UUID keys)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD
from tokens_app.serializers import UserSerializer


def test_a_uuid_keyed_user_has_a_string_id():
    key = uuid.uuid4()
    user = SimpleNamespace(pk=key, get_username=lambda: "zoe", email="z@example.com", first_name="Z")

    assert UserSerializer(user).data == {
        "id": str(key),
        "username": "zoe",
        "email": "z@example.com",
        "first_name": "Z",
        "last_name": "",  # a custom user model without the field
    }


def test_an_integer_keyed_user_keeps_a_number(alice):
    assert UserSerializer(alice).data["id"] == alice.pk


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return Client().get("/api/schema/", {"format": "json"}).json()


def test_the_schema_documents_ids_of_either_kind(schema):
    assert schema["components"]["schemas"]["User"]["properties"]["id"]["oneOf"] == [
        {"type": "integer"},
        {"type": "string"},
    ]


@pytest.mark.parametrize(
    ("url", "component"),
    [
        ("/api/auth/me/", "Me"),
        ("/api/auth/sessions/", "Session"),
    ],
)
def test_each_answer_has_exactly_the_documented_fields(alice, schema, url, component):
    client = APIClient()
    client.post("/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")
    body = client.get(url).json()
    answer = body[0] if isinstance(body, list) else body

    assert set(answer) == set(schema["components"]["schemas"][component]["properties"])


def test_the_app_sign_in_answer_has_exactly_the_documented_fields(alice, schema):
    body = (
        APIClient()
        .post("/api/auth/app/login/", {"username": "alice", "password": PASSWORD}, format="json")
        .json()
    )

    assert set(body) == set(schema["components"]["schemas"]["BearerTokens"]["properties"])
    assert set(body["user"]) == set(schema["components"]["schemas"]["User"]["properties"])
