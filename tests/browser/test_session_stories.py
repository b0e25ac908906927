"""Session stories in a real browser: a form posted after the
session ended arrives after signing in again; the warning before a time
limit, with "Stay signed in"; a sign-out in one tab reaching another."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from tokens_app import flows

from .test_stories import cookies, sign_in, wait_for_access_cookie_to_expire

pytestmark = pytest.mark.browser


@pytest.mark.urls("tests.urls_kept")
def test_a_form_posted_after_the_session_ended_arrives_after_signing_in(
    settings, page, expect, alice, password, live_server, screenshot
):
    settings.TOKENS_ACCESS_LIFETIME = timedelta(seconds=2)
    sign_in(page, "alice", password)
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()
    page.goto("/compose/")
    page.get_by_label("Message").fill("A long answer I typed for twenty minutes")
    page.get_by_label("PIN").fill("4321")
    # Meanwhile an administrator ends alice's sessions; the access token runs out.
    flows.force_logout([alice])
    wait_for_access_cookie_to_expire(page.context)

    page.get_by_role("button", name="Send").click()

    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/note/")
    expect(page.get_by_text("We kept what you submitted. Sign in to send it.")).to_be_visible()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server.url}/accounts/kept/")
    expect(page.get_by_role("heading", name="We kept what you submitted")).to_be_visible()
    expect(page.get_by_text("A long answer I typed for twenty minutes")).to_be_visible()
    assert "4321" not in page.content()  # a password input is never kept
    screenshot(page, "kept-post")
    page.get_by_role("button", name="Send it again").click()

    expect(page).to_have_url(f"{live_server.url}/note/")
    arrived = json.loads(page.locator("body").inner_text())
    assert arrived["user"] == "alice"
    assert arrived["fields"]["message"] == ["A long answer I typed for twenty minutes"]
    assert "pin" not in arrived["fields"]


def test_pages_warn_before_an_idle_limit_and_stay_signed_in_extends_it(
    settings, page, expect, alice, password, screenshot
):
    settings.TOKENS_REFRESH_LIFETIME = timedelta(seconds=130)  # a short idle limit
    settings.TOKENS_SESSION_WARNING = timedelta(seconds=127)  # warned 3 s after the sign-in
    sign_in(page, "alice", password)
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()
    notice = page.get_by_role("alert").filter(has_text="You will be signed out at")
    expect(notice).to_be_hidden()

    expect(notice).to_be_visible(timeout=8000)
    expect(notice).to_contain_text("because the page has not been used")
    expect(notice.get_by_role("link", name="Sign in again")).to_be_hidden()  # not needed: it can be extended
    screenshot(page, "session-warning")
    before = cookies(page.context)["__Host-refresh_token"]["expires"]
    time.sleep(1.1)  # so the extended deadline is a later second
    # By keyboard: the button is a real one.
    notice.get_by_role("button", name="Stay signed in").focus()
    with page.expect_response(lambda response: "/accounts/session/extend/" in response.url) as answer:
        page.keyboard.press("Enter")

    assert answer.value.status == 200
    expect(notice).to_be_hidden()
    assert cookies(page.context)["__Host-refresh_token"]["expires"] > before
    assert page.url.endswith("/")  # no reload: what was typed on the page stays


def test_near_the_maximum_lifetime_pages_offer_to_save_work_and_sign_in_again(
    settings, page, expect, alice, password
):
    settings.TOKENS_SESSION_MAX_LIFETIME = timedelta(seconds=60)  # within the warning from the start
    sign_in(page, "alice", password)

    notice = page.get_by_role("alert").filter(has_text="maximum length")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Save your work")
    expect(notice.get_by_role("button", name="Stay signed in")).to_have_count(0)
    expect(notice.get_by_role("link", name="Sign in again")).to_be_visible()


def test_a_sign_out_in_one_tab_reaches_the_other_open_tabs(page, expect, alice, password, live_server):
    sign_in(page, "alice", password)
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()
    other_tab = page.context.new_page()
    other_tab.goto(f"{live_server.url}/accounts/sessions/")
    expect(other_tab.get_by_role("heading", name="Your devices")).to_be_visible()

    page.get_by_role("navigation", name="Account").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    told = other_tab.get_by_role("alert").filter(has_text="You signed out in another tab")
    expect(told).to_be_visible()
    expect(told.get_by_role("link", name="Sign in again")).to_have_attribute(
        "href", "/accounts/login/?next=/accounts/sessions/"
    )
