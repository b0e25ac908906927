"""What a person using a browser sees, told as stories and checked in Chromium.

Each story asserts what the user sees (text, address, messages) and what the
browser holds (cookies), through the pages only.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE

from .conftest import DESKTOP, LAPTOP, PHONE

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a brand new horse battery staple 42"
SESSION_ENDED = "Your session has ended"
AUTH_COOKIES = {ACCESS_COOKIE, REFRESH_COOKIE}


def sign_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def cookies(context) -> dict[str, dict]:
    return {cookie["name"]: cookie for cookie in context.cookies()}


def wait_for_access_cookie_to_expire(context, timeout: float = 6.0) -> None:
    """Sleep until the browser itself has dropped the short-lived access cookie."""
    deadline = time.monotonic() + timeout
    while ACCESS_COOKIE in cookies(context):
        assert time.monotonic() < deadline, "the access cookie outlived its lifetime"
        time.sleep(0.25)


def account_nav(page):
    return page.get_by_role("navigation", name="Account")


def message(page):
    return page.get_by_role("status")


def assert_no_horizontal_scroll(page) -> None:
    widths = page.evaluate(
        "({page: document.documentElement.scrollWidth, view: document.documentElement.clientWidth})"
    )
    assert widths["page"] <= widths["view"], f"{page.url} scrolls sideways: {widths}"


def test_signing_in_lands_on_the_page_asked_for_with_httponly_secure_lax_cookies(
    page, expect, alice, password, live_server, screenshot
):
    page.goto("/accounts/sessions/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/accounts/sessions/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # The app's stylesheet is served by the live server and applied.
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(245, 246, 248)"
    screenshot(page, "login")

    signed_in_at = time.time()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server.url}/accounts/sessions/")
    expect(account_nav(page)).to_contain_text("Signed in as alice")
    expect(page.get_by_role("heading", name="Your devices")).to_be_visible()

    # Page scripts see the (deliberately readable) CSRF cookie, but no token.
    visible_to_scripts = {c.split("=")[0].strip() for c in page.evaluate("document.cookie").split(";")}
    assert "__Host-csrftoken" in visible_to_scripts
    assert not AUTH_COOKIES & visible_to_scripts

    # Secure cookies set over http://localhost are kept because Chromium
    # counts localhost as a secure context; this page loaded signed in with them.
    assert page.evaluate("window.isSecureContext") is True
    jar = cookies(page.context)
    for name, lifetime in ((ACCESS_COOKIE, 5 * 60), (REFRESH_COOKIE, 14 * 24 * 3600)):
        cookie = jar[name]
        assert cookie["httpOnly"] is True
        assert cookie["secure"] is True
        assert cookie["sameSite"] == "Lax"
        assert cookie["path"] == "/"
        assert cookie["domain"] == "localhost"  # host-only
        assert signed_in_at + lifetime - 5 <= cookie["expires"] <= time.time() + lifetime + 1


def test_pages_and_forms_keep_working_after_the_access_token_expires(
    settings, page, expect, alice, password, live_server
):
    settings.TOKENS_ACCESS_LIFETIME = timedelta(seconds=2)
    sign_in(page, "alice", password)
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()
    first_refresh = cookies(page.context)[REFRESH_COOKIE]["value"]

    wait_for_access_cookie_to_expire(page.context)
    with page.expect_response("**/accounts/password_change/") as answer:
        account_nav(page).get_by_role("link", name="Password", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/accounts/password_change/")
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    # The page came with a new token pair (read from the response: the new
    # access cookie itself may be gone again by now on a slow machine).
    set_cookies = " ".join(answer.value.header_values("set-cookie"))
    assert "__Host-access_token=ey" in set_cookies, "the page was served without a silent refresh"
    assert "__Host-refresh_token=ey" in set_cookies
    assert cookies(page.context)[REFRESH_COOKIE]["value"] != first_refresh, "refresh token not rotated"

    # The form is filled slowly: the access token is gone again when it is sent.
    page.get_by_label("Old password").fill(password)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    wait_for_access_cookie_to_expire(page.context)
    page.get_by_role("button", name="Change password").click()

    expect(page).to_have_url(f"{live_server.url}/accounts/password_change/done/")
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    expect(message(page)).to_contain_text("Your password was changed.")
    expect(account_nav(page)).to_contain_text("Signed in as alice")
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_logging_out_returns_to_the_login_page_and_back_shows_nothing_private(
    page, expect, alice, password, live_server
):
    sign_in(page, "alice", password)
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()

    account_nav(page).get_by_role("button", name="Log out").click()

    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    expect(message(page)).to_contain_text("You have been logged out.")
    assert not AUTH_COOKIES & set(cookies(page.context))

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Hello, alice")).to_have_count(0)


def test_resetting_a_forgotten_password_logs_out_the_other_browser(
    new_context, expect, alice, password, live_server, mailoutbox
):
    phone = new_context(user_agent=PHONE).new_page()
    sign_in(phone, "alice", password)
    expect(phone.get_by_role("heading", name="Hello, alice")).to_be_visible()

    page = new_context().new_page()
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.com"]
    link = re.search(r"https?://\S+/accounts/reset/\S+/", mailoutbox[0].body).group(0)
    assert link.startswith(live_server.url)
    page.goto(link)
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()

    # A mistake is shown next to its field, and the field points at it.
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD + "!")
    page.get_by_role("button", name="Set password").click()
    confirmation = page.get_by_label("New password confirmation")
    expect(confirmation).to_have_attribute("aria-invalid", "true")
    error_id = confirmation.get_attribute("aria-describedby").split()[-1]
    expect(page.locator(f"#{error_id}")).to_contain_text("The two password fields didn’t match.")

    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    confirmation.fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Password set")).to_be_visible()
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()

    # The phone's next refresh is refused: its access token is dropped to force one.
    phone.context.clear_cookies(name=ACCESS_COOKIE)
    phone.reload()
    expect(phone).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    expect(message(phone)).to_contain_text(SESSION_ENDED)
    assert not AUTH_COOKIES & set(cookies(phone.context))


@pytest.mark.parametrize(
    ("how", "immediate"),
    [("button", True), ("bulk action", False)],
    ids=["button-immediate-revocation", "bulk-action-at-next-refresh"],
)
def test_an_admin_force_logout_sends_the_user_to_the_login_page_saying_why(
    settings, new_context, expect, make_user, password, live_server, screenshot, how, immediate
):
    settings.TOKENS_IMMEDIATE_REVOCATION = immediate
    alice = make_user("alice", first_name="Alice", last_name="Liddell")
    make_user("root", is_staff=True, is_superuser=True)
    user = new_context(user_agent=LAPTOP).new_page()
    sign_in(user, "alice", password)
    expect(user.get_by_role("heading", name="Hello, alice")).to_be_visible()

    admin = new_context(user_agent=DESKTOP, viewport={"width": 1280, "height": 900}).new_page()
    admin.goto("/admin/")
    expect(admin).to_have_url(f"{live_server.url}/accounts/login/?next=%2Fadmin%2F")
    admin.get_by_label("Username").fill("root")
    admin.get_by_label("Password", exact=True).fill(password)
    admin.get_by_role("button", name="Sign in").click()
    expect(admin).to_have_url(f"{live_server.url}/admin/")

    if how == "button":
        admin.goto(f"/admin/tokens_app/user/{alice.pk}/change/")
        expect(admin.get_by_role("heading", name="alice")).to_be_visible()
        screenshot(admin, "admin-user")
        admin.get_by_role("button", name="Force logout").click()
        expect(admin).to_have_url(f"{live_server.url}/admin/tokens_app/user/{alice.pk}/change/")
    else:
        admin.goto("/admin/tokens_app/user/")
        admin.locator(f"input[name=_selected_action][value='{alice.pk}']").check()
        admin.locator("select[name=action]").select_option("force_logout")
        admin.get_by_role("button", name="Go").click()
    expect(admin.locator("ul.messagelist")).to_contain_text("1 user was logged out.")

    if not immediate:
        # Without per-request checks, the access token in hand stays good for
        # its few minutes; the refresh that follows is refused.
        user.reload()
        expect(user.get_by_role("heading", name="Hello, alice")).to_be_visible()
        user.context.clear_cookies(name=ACCESS_COOKIE)
    user.goto("/accounts/sessions/")
    expect(user).to_have_url(f"{live_server.url}/accounts/login/?next=/accounts/sessions/")
    expect(message(user)).to_contain_text(SESSION_ENDED)
    expect(user.get_by_text("Signed in as")).to_have_count(0)
    if how == "button":
        screenshot(user, "login-after-force-logout")


def test_the_sessions_page_lists_both_browsers_and_ends_the_other_one(
    settings, new_context, expect, alice, password, live_server, screenshot
):
    laptop = new_context(user_agent=LAPTOP).new_page()
    phone = new_context(user_agent=PHONE).new_page()
    sign_in(phone, "alice", password)
    sign_in(laptop, "alice", password)
    expect(laptop.get_by_role("heading", name="Hello, alice")).to_be_visible()
    expect(phone.get_by_role("heading", name="Hello, alice")).to_be_visible()

    laptop.get_by_role("link", name="Your devices").click()
    rows = laptop.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(2)
    this_device = rows.filter(has_text="Chrome on Linux")
    expect(this_device).to_contain_text("This device")
    expect(rows.filter(has_text="Safari on iPhone")).not_to_contain_text("This device")
    screenshot(laptop, "sessions")

    # The access token runs out while the page is open: the action still works.
    settings.TOKENS_ACCESS_LIFETIME = timedelta(seconds=1)
    laptop.context.clear_cookies(name=ACCESS_COOKIE)
    laptop.get_by_role("button", name="Log out Safari on iPhone").click()

    expect(laptop).to_have_url(f"{live_server.url}/accounts/sessions/")
    expect(message(laptop)).to_contain_text("That device has been logged out.")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Chrome on Linux")

    phone.context.clear_cookies(name=ACCESS_COOKIE)
    phone.get_by_role("link", name="Your devices").click()
    expect(phone).to_have_url(f"{live_server.url}/accounts/login/?next=/accounts/sessions/")
    expect(message(phone)).to_contain_text(SESSION_ENDED)

    laptop.reload()
    expect(account_nav(laptop)).to_contain_text("Signed in as alice")


def test_on_a_phone_the_pages_fit_the_screen(new_context, expect, alice, password, live_server, screenshot):
    page = new_context(user_agent=PHONE, viewport={"width": 390, "height": 844}).new_page()
    page.goto("/accounts/login/")
    assert_no_horizontal_scroll(page)
    sign_in(page, "alice", password)
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()
    assert_no_horizontal_scroll(page)
    screenshot(page, "home-phone")
    for path in ("/accounts/sessions/", "/accounts/password_change/", "/accounts/logout/", "/nowhere/"):
        page.goto(path)
        assert_no_horizontal_scroll(page)
    page.goto("/accounts/sessions/")
    # Without the table's header row, each value says what it is.
    row = page.get_by_role("table").locator("tbody tr").first
    expect(row).to_contain_text("Safari on iPhone")
    ip_cell = row.locator("td").nth(1)
    assert ip_cell.evaluate("td => getComputedStyle(td, '::before').content") == '"IP address: "'
    screenshot(page, "sessions-phone")
    page.goto("/accounts/password_change/")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("This field is required.").first).to_be_visible()
    assert_no_horizontal_scroll(page)
    screenshot(page, "form-errors-phone")


def test_a_keyboard_user_can_sign_in_and_skip_to_the_content(page, expect, alice, password, live_server):
    page.goto("/accounts/login/")
    expect(page.get_by_label("Username")).to_be_focused()  # autofocus
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()

    # The first Tab reaches "Skip to content", which jumps past the header.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Your devices")).to_be_focused()


def test_a_wrong_password_is_reported_on_the_form_and_the_username_kept(page, expect, alice, live_server):
    sign_in(page, "alice", "not my password")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password.")
    expect(page.get_by_label("Username")).to_have_value("alice")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert not AUTH_COOKIES & set(cookies(page.context))


def test_a_form_sent_without_its_csrf_cookie_explains_what_to_do(page, expect, alice, password):
    page.goto("/accounts/login/")
    page.context.clear_cookies(name="__Host-csrftoken")  # as after "clear cookies" with the page open
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_response("**/accounts/login/") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 403
    expect(page.get_by_role("heading", name="This form could not be sent")).to_be_visible()
    expect(page.get_by_text("Go back, reload the page and try again.")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(245, 246, 248)"
    assert not AUTH_COOKIES & set(cookies(page.context))

    page.go_back()
    page.reload()
    sign_in(page, "alice", password)
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()


def test_home_page_greets_the_user_by_name(page, expect, alice, password, screenshot):
    sign_in(page, "alice", password)
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()
    expect(page.get_by_role("button", name="Log out everywhere")).to_be_visible()
    screenshot(page, "home")


def test_an_unknown_address_shows_the_sites_own_404_page(page, expect, live_server):
    response = page.goto("/no-such-page/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the home page")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(245, 246, 248)"


class _Clock:
    """The server's clock (tokens_app.clock), moved by the story; the live
    server runs in this process, so it reads the same one."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.now = datetime.now(UTC)

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def server_clock(monkeypatch) -> _Clock:
    clock = _Clock()
    monkeypatch.setattr("tokens_app.clock.now", lambda: clock.now)
    return clock


def restart_browser(new_context, old_context):
    """What closing and reopening the browser keeps: its persistent cookies only."""
    kept = [cookie for cookie in old_context.cookies() if cookie["expires"] != -1]
    old_context.close()
    context = new_context()
    context.add_cookies(kept)
    return context.new_page()


def test_remember_me_decides_whether_closing_the_browser_signs_out(
    new_context, expect, alice, password, live_server, screenshot
):
    # Unticked (a shared computer): browser-session cookies, gone with the browser.
    shared = new_context().new_page()
    shared.goto("/accounts/login/")
    remember = shared.get_by_label("Remember me on this device")
    expect(remember).to_be_checked()  # ticked by default
    screenshot(shared, "login-remember-me")
    shared.get_by_label("Username").fill("alice")
    shared.get_by_label("Password", exact=True).fill(password)
    remember.uncheck()
    shared.get_by_role("button", name="Sign in").click()
    expect(account_nav(shared)).to_contain_text("Signed in as alice")
    jar = cookies(shared.context)
    assert jar[ACCESS_COOKIE]["expires"] == -1
    assert jar[REFRESH_COOKIE]["expires"] == -1
    shared.goto("/accounts/sessions/")
    expect(shared.get_by_role("table")).to_contain_text("Until the browser closes")

    reopened = restart_browser(new_context, shared.context)
    reopened.goto("/")
    expect(reopened).to_have_url(f"{live_server.url}/accounts/login/?next=/")

    # Ticked (the default): persistent cookies, still signed in after a restart.
    mine = new_context().new_page()
    sign_in(mine, "alice", password)
    expect(account_nav(mine)).to_contain_text("Signed in as alice")
    assert cookies(mine.context)[REFRESH_COOKIE]["expires"] > time.time() + 13 * 86400
    reopened = restart_browser(new_context, mine.context)
    reopened.goto("/accounts/sessions/")
    expect(account_nav(reopened)).to_contain_text("Signed in as alice")
    expect(reopened.get_by_role("table")).to_contain_text("Remembered")


def test_a_sensitive_action_after_a_while_asks_for_the_password_and_carries_on(
    new_context, expect, alice, password, live_server, server_clock, screenshot
):
    other = new_context(user_agent=PHONE).new_page()
    sign_in(other, "alice", password)
    page = new_context().new_page()
    sign_in(page, "alice", password)
    expect(account_nav(page)).to_contain_text("Signed in as alice")

    server_clock.advance(minutes=11)  # the sign-in is no longer recent
    account_nav(page).get_by_role("link", name="Password").click()
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    screenshot(page, "reauthenticate")
    page.get_by_label("Password", exact=True).fill("not my password")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("That is not your password.")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/password_change/")
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()

    # A form posted with a stale sign-in: nothing happens until it is confirmed,
    # then the user is back on the form and sends it again.
    server_clock.advance(minutes=11)
    page.goto("/accounts/sessions/")
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Log out all other devices").click()
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    expect(message(page)).to_contain_text("Nothing was changed yet")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/sessions/")
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Log out all other devices").click()
    expect(message(page)).to_contain_text("Logged out 1 other device(s).")
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(1)
