"""The HTML pages' own promises that need no browser: error pages in the site's
style, and form errors tied to their fields for screen readers."""

from __future__ import annotations

import re

from django.test import Client, RequestFactory
from django.urls import get_resolver

from tests.conftest import login


def test_a_form_sent_without_its_csrf_token_gets_the_sites_explanation(db):
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403
    assert [t.name for t in response.templates][0] == "403_csrf.html"
    assert "This form could not be sent" in response.content.decode()
    assert "CSRF" not in response.content.decode()  # the reason is logged, not shown


def test_the_server_error_page_is_in_the_sites_style_without_the_request_context():
    handler = get_resolver().resolve_error_handler(500)
    response = handler(RequestFactory().get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in body
    assert 'rel="stylesheet" href="/static/tokens_app/tokens_app.css"' in body


def test_an_unknown_address_gets_the_sites_404_page(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.content.decode()
    # The site's own tokens_app/base.html over the app's: both are rendered.
    assert [t.name for t in response.templates].count("tokens_app/base.html") == 2
    assert "<title>Page not found · authproject</title>" in response.content.decode()


def test_a_forbidden_action_gets_the_sites_403_page(make_user, alice):
    make_user("clerk", is_staff=True)  # staff, but may not change users
    client = Client()
    assert login(client, "clerk").status_code == 302
    response = client.post(f"/admin/tokens_app/user/{alice.pk}/force-logout/")
    assert response.status_code == 403
    assert "<h1>Permission denied</h1>" in response.content.decode()
    assert [t.name for t in response.templates].count("tokens_app/base.html") == 2


def test_each_field_error_is_named_by_its_input(client, db):
    body = client.post("/accounts/password_reset/", {"email": "not an address"}).content.decode()
    error = re.search(r'<div class="field-errors" id="(id_email_error)">', body)
    assert error, body
    field = re.search(r"<input [^>]*name=\"email\"[^>]*>", body).group(0)
    assert 'aria-invalid="true"' in field
    assert re.search(r'aria-describedby="[^"]*\bid_email_error\b', field)
    assert "Enter a valid email address." in body
