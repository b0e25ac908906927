"""Password reset: no account oracle, and one use per link.

- The answer to a reset request takes as long, and does the same work,
  whether or not the address has an account: the mail is built and sent on
  the background thread, the audit row written after the answer has gone.
- The confirm page keeps Django's protections: never cached (its URL holds
  the token), and the new password never reaches an error report.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from io import BytesIO
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core import mail
from django.core.handlers.wsgi import WSGIHandler
from django.core.mail.backends.locmem import EmailBackend
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import Client
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from tokens_app.models import AuditEvent

NEW_PASSWORD = "a new and rather long passphrase 42"
SLOW_SEND = 0.05  # seconds: an SMTP server that takes its time


class SlowBackend(EmailBackend):
    """The test outbox, as slow as a distant SMTP server, noting which thread sends."""

    threads: list[int] = []

    def send_messages(self, messages):
        SlowBackend.threads.append(threading.get_ident())
        time.sleep(SLOW_SEND)
        return super().send_messages(messages)


@pytest.fixture
def slow_mail(settings):
    settings.EMAIL_BACKEND = f"{__name__}.SlowBackend"
    settings.TOKENS_THROTTLE_ENABLED = False  # many requests from one address
    SlowBackend.threads = []
    # Time the request alone: tests/conftest.py waits for the background
    # thread at the end of each test client request.
    request_finished.disconnect(dispatch_uid="tests.flush_background")
    yield
    from tokens_app import background

    background.flush(timeout=10)


def _csrf() -> str:
    return Client().get("/accounts/password_reset/").cookies[settings.CSRF_COOKIE_NAME].value


class Served:
    """A POST through Django's WSGI handler, as gunicorn makes it: what happened
    until the answer was ready to send, and what happened when it was closed."""

    def __init__(self, email: str, token: str) -> None:
        body = urlencode({"email": email, "csrfmiddlewaretoken": token}).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/accounts/password_reset/",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "testserver",
            "HTTP_COOKIE": f"{settings.CSRF_COOKIE_NAME}={token}",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "192.0.2.1",
            "wsgi.input": BytesIO(body),
            "wsgi.url_scheme": "http",
        }
        here = threading.get_ident()
        templates: list[str] = []

        def rendered(sender, template, **kwargs):
            if threading.get_ident() == here:
                templates.append(template.name)

        template_rendered.connect(rendered)
        sent_before = len(SlowBackend.threads)
        # As Django's test client does: the test's transaction holds the
        # connection, which the request signals would otherwise close.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = WSGIHandler()(environ, lambda status, headers: None)
                self.seconds = time.perf_counter() - started
                self.status = response.status_code
                self.location = response["Location"]
                self.queries = [re.sub(r"'[^']*'|\d+", "?", q["sql"]) for q in queries.captured_queries]
                self.templates = list(templates)
                self.sent_here = [t for t in SlowBackend.threads[sent_before:] if t == here]
                response.close()  # the server has sent it
        finally:
            template_rendered.disconnect(rendered)
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


def test_a_reset_request_does_the_same_work_for_an_address_with_or_without_an_account(alice, slow_mail):
    token = _csrf()
    known = Served("alice@example.com", token)
    unknown = Served("nobody@example.com", token)

    assert (known.status, known.location) == (unknown.status, unknown.location)
    assert (302, "/accounts/password_reset/done/") == (known.status, known.location)
    # Until the answer is ready: the same queries, no mail built or sent.
    assert known.queries == unknown.queries
    assert known.templates == unknown.templates == []
    assert known.sent_here == unknown.sent_here == []
    # And yet the real account gets its mail (from the background thread),
    # and the request its audit row (once the answer has been sent).
    from tokens_app import background

    background.flush(timeout=10)
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert SlowBackend.threads
    assert threading.get_ident() not in SlowBackend.threads
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_RESET_REQUESTED, user=alice).count() == 1


def test_a_reset_request_takes_as_long_for_an_address_with_or_without_an_account(alice, slow_mail, capsys):
    token = _csrf()
    for address in ("alice@example.com", "nobody@example.com"):  # warm up: templates compiled
        Served(address, token)
    from tokens_app import background

    background.flush(timeout=10)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(20):
        timings["known"].append(Served("alice@example.com", token).seconds)
        timings["unknown"].append(Served("nobody@example.com", token).seconds)
    known, unknown = (statistics.median(timings[k]) * 1000 for k in ("known", "unknown"))
    with capsys.disabled():
        print(f"\nreset request, median of 20: known address {known:.2f} ms, unknown {unknown:.2f} ms")
    # Sending in the request made the known address SLOW_SEND slower; a loose
    # bound, the machine may be busy.
    assert abs(known - unknown) < SLOW_SEND * 1000 / 2


def test_a_failing_mail_server_does_not_break_the_reset_request_or_later_ones(alice, settings, caplog):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"
    response = Client().post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    # Django's form logs the failure; the thread goes on to the next mail.
    assert "Failed to send password reset email" in caplog.text
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Client().post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert len(mail.outbox) == 1


class BrokenBackend(EmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


def test_a_failing_background_task_is_logged_and_the_next_one_still_runs(caplog):
    from tokens_app import background

    done = []

    def broken() -> None:
        raise RuntimeError("smtp exploded")

    background.submit(broken, name="password reset mail")
    background.submit(lambda: done.append(threading.get_ident()), name="next")
    background.flush(timeout=10)
    assert "background task failed: password reset mail" in caplog.text
    assert "RuntimeError: smtp exploded" in caplog.text
    assert done
    assert done != [threading.get_ident()]


def test_the_reset_mail_is_built_in_the_language_of_the_request(alice, settings):
    settings.LANGUAGES = [("en", "English"), ("fr", "French")]
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:1],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[1:],
    ]
    languages = []

    def rendered(sender, template, **kwargs):
        if template.name == "registration/password_reset_email.html":
            languages.append((translation.get_language(), threading.get_ident()))

    template_rendered.connect(rendered)
    try:
        Client().post("/accounts/password_reset/", {"email": "alice@example.com"}, HTTP_ACCEPT_LANGUAGE="fr")
    finally:
        template_rendered.disconnect(rendered)
    assert len(mail.outbox) == 1
    [(language, thread)] = languages
    assert language == "fr"
    assert thread != threading.get_ident()  # built on the background thread


# --- the confirm page ---------------------------------------------------


def reset_link(alice) -> str:
    Client().post("/accounts/password_reset/", {"email": alice.email})
    return re.search(r"/accounts/reset/[^/\s]+/[^/\s]+/", mail.outbox[-1].body).group(0)


def assert_never_cached(response) -> None:
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private", "max-age=0"} <= cache_control, response["Cache-Control"]


@pytest.mark.parametrize("valid", [True, False], ids=["valid link", "used link"])
def test_the_reset_confirm_page_whose_url_holds_the_token_is_never_cached(alice, valid):
    link = reset_link(alice)
    if not valid:
        Client().post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    browser = Client()
    page = browser.get(link)
    assert page.context["validlink"] is valid
    assert_never_cached(page)
    posted = browser.post(link, {"new_password1": "short", "new_password2": "different"})
    assert posted.status_code == 200
    assert_never_cached(posted)
    done = browser.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert_never_cached(done)


def test_a_new_password_posted_to_the_reset_page_never_reaches_an_error_report(alice, monkeypatch, caplog):
    link = reset_link(alice)

    def broken_save(self, *args, **kwargs):
        raise RuntimeError("the database fell over")

    monkeypatch.setattr("django.contrib.auth.forms.SetPasswordMixin.set_password_and_save", broken_save)
    browser = Client(raise_request_exception=False)
    response = browser.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 500

    # What AdminEmailHandler (or Sentry's Django integration) would report.
    [record] = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    report = ExceptionReporter(record.request, *record.exc_info, is_email=True)
    assert "RuntimeError" in report.get_traceback_text()
    assert NEW_PASSWORD not in report.get_traceback_text()
    assert NEW_PASSWORD not in report.get_traceback_html()
    cleansed = SafeExceptionReporterFilter().get_post_parameters(record.request)
    assert cleansed["new_password1"] == cleansed["new_password2"] == "********************"
