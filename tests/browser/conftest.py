"""A real browser (Debian's Chromium, driven by Playwright) against a live server.

The live server (pytest-django's ``live_server``) runs in a thread of this
process, so the ``settings`` fixture, the local-memory cache and
``django.core.mail.outbox`` are shared with it, and it serves the app's stylesheet itself
(``django.contrib.staticfiles`` is installed).

Cookies: the tests run with DEBUG off, so the auth cookies are Secure, and the
live server speaks plain http. Chromium treats http://localhost as a secure
context (window.isSecureContext is true) and keeps Secure cookies set by
it, so nothing is relaxed here: the sign-in story asserts that the cookies
it gets are Secure and that they work.

Missing Chromium or Playwright skips these tests with the way to get them,
unless TOKENS_REQUIRE_BROWSER_TESTS=1 (CI), where it is a failure.

Run them:   python -m pytest tests/browser          (about 35 s)
Screenshots: make screenshots   (writes docs/screenshots/*.png; commit them)
Chromium elsewhere than /usr/bin/chromium: TOKENS_CHROMIUM=/path/to/chromium.
A fixed port for the live server: DJANGO_LIVE_TEST_SERVER_ADDRESS=localhost:8081.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("TOKENS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    # Containers often give /dev/shm 64 MB, too little for Chromium's renderer.
    "--disable-dev-shm-usage",
]
HOW_TO_GET_IT = (
    "install Debian's Chromium (apt-get install chromium fonts-dejavu-core) and the Python "
    "package playwright (pip install -r requirements-dev.txt; never `playwright install`), "
    "or point TOKENS_CHROMIUM at a Chromium binary"
)
# Devices the stories sign in from; the sessions page names them "Chrome on Linux"...
LAPTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
)
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM}"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator:
    missing = _missing()
    if missing:
        message = f"Browser tests need a browser: {missing}; {HOW_TO_GET_IT}."
        if os.environ.get("TOKENS_REQUIRE_BROWSER_TESTS") == "1":
            pytest.fail(f"TOKENS_REQUIRE_BROWSER_TESTS=1 but {message}", pytrace=False)
        pytest.skip(message)

    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop marked as running in this
    # thread between calls, and Django refuses ORM calls when it sees one
    # ("SynchronousOnlyOperation"). The tests' own ORM calls (creating users,
    # checking rows, the flush after each test) are plain synchronous code, so
    # the guard is lifted for this module only; the live server's thread has
    # no loop and is unaffected. Scoping the browser to the module also means
    # the loop is gone before any other test module runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_context(browser, live_server) -> Iterator[Callable]:
    """Open a separate browser (own cookies) on the live server: ``new_context(user_agent=PHONE)``."""
    contexts = []

    def open_context(*, user_agent: str = LAPTOP, viewport: dict | None = None):
        context = browser.new_context(
            base_url=live_server.url,
            user_agent=user_agent,
            viewport=viewport or {"width": 1100, "height": 800},
            locale="en-US",
            timezone_id="UTC",
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    return new_context().new_page()


@pytest.fixture
def screenshot(request, tmp_path) -> Callable:
    """Save a full-page PNG. ``make screenshots`` writes them to docs/screenshots/
    (TOKENS_SCREENSHOT_DIR); a plain test run keeps them out of the work tree."""
    target = Path(os.environ.get("TOKENS_SCREENSHOT_DIR") or tmp_path)

    def take(page, name: str) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
        assert path.stat().st_size > 1000
        return path

    return take


@pytest.fixture
def expect(browser) -> Callable:
    """Playwright's ``expect`` (imported late: without Playwright the tests skip, not crash)."""
    from playwright.sync_api import expect

    # CI machines are shared and slow; a real failure still shows within seconds.
    expect.set_options(timeout=10_000)
    return expect
