"""The logs never hold a secret and cannot be forged into.

- gunicorn's access log masks the token of a reset link in every form the
  link can be opened in (no trailing slash, %2F, other percent-encodings);
- a production 500 is logged, with its traceback, and without the request's
  cookies, tokens or posted passwords, even when the error message quotes them.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from datetime import timedelta
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from gunicorn.config import Config

from tests.conftest import PASSWORD, login
from tokens_app.conf import app_settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "c0ffee-0123456789abcdef0123456789abcdef"


def gunicorn_logger():
    """The access logger authproject/gunicorn.conf.py gives gunicorn."""
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "authproject" / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = Config()
    cfg.set("accesslog", None)
    cfg.set("access_log_format", module.access_log_format)
    return module.logger_class(cfg), module.access_log_format


def access_line(raw_uri: str, *, referer: str = "-") -> str:
    logger, fmt = gunicorn_logger()
    path, _, query = raw_uri.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": raw_uri,
        "PATH_INFO": path,  # gunicorn decodes it; the tests below keep it raw, the harder case
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_REFERER": referer,
        "HTTP_USER_AGENT": "test",
    }
    response = SimpleNamespace(status="200 OK", sent=12, headers=[])
    request = SimpleNamespace(headers=[("COOKIE", "refresh_token=secret")])
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=3))
    return fmt % atoms


@pytest.mark.parametrize(
    "raw_uri",
    [
        f"/accounts/reset/MQ/{TOKEN}/",
        f"/accounts/reset/MQ/{TOKEN}",  # no trailing slash: Django redirects, the token is in the line
        f"/accounts/reset/MQ%2F{TOKEN}/",
        f"/accounts/reset/MQ%2f{TOKEN}%2F",
        f"/accounts/reset%2FMQ%2F{TOKEN}",
        f"/accounts/%72eset/MQ/{TOKEN}/",  # Django decodes the path before routing
        f"/accounts/reset/MQ%252F{TOKEN}/",
        f"/accounts/reset/MQ/{TOKEN}/?next=/",
        f"/accounts/login/?next=/accounts/reset/MQ/{TOKEN}/",
        f"/accounts/login/?next=%2Faccounts%2Freset%2FMQ%2F{TOKEN}%2F",
    ],
)
def test_the_access_log_masks_a_reset_token_in_every_form_of_the_link(raw_uri):
    line = access_line(raw_uri)
    assert TOKEN not in line
    assert TOKEN[:20] not in line.replace("%", "")
    assert "/reset/MQ/********" in line, line
    assert line.startswith("192.0.2.7 - - [")


def test_the_access_log_masks_a_reset_token_in_the_referer():
    line = access_line("/accounts/reset/done/", referer=f"https://example.com/accounts/reset/MQ/{TOKEN}/")
    assert TOKEN not in line
    assert '"GET /accounts/reset/done/ HTTP/1.1"' in line
    assert '"https://example.com/accounts/reset/MQ/********/"' in line


def test_the_access_log_keeps_ordinary_lines_as_they_are():
    line = access_line("/accounts/reset/done/?x=1")
    assert '"GET /accounts/reset/done/?x=1 HTTP/1.1" 200 12 "-" "test"' in line
    assert "secret" not in line


def test_a_decoded_newline_in_a_reset_link_cannot_forge_an_access_log_line():
    line = access_line(f"/accounts/reset/MQ%0A/{TOKEN}%0A1.2.3.4%20-%20-%20%22GET%20/admin/")
    assert "\n" not in line
    assert TOKEN not in line


def test_the_gunicorn_error_log_masks_a_reset_token_in_the_uri_of_a_failed_request(tmp_path):
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "authproject" / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = Config()
    cfg.set("errorlog", str(tmp_path / "error.log"))
    logger = module.logger_class(cfg)
    try:
        raise OSError("connection reset")
    except OSError:
        # What gunicorn's workers log when a request fails outside Django.
        logger.exception("Error handling request %s", f"/accounts/reset/MQ/{TOKEN}")
    for handler in logger.error_log.handlers:
        handler.flush()
    log = (tmp_path / "error.log").read_text()
    assert "Error handling request /accounts/reset/MQ/********" in log
    assert "OSError: connection reset" in log
    assert TOKEN not in log


# --- production 500s ----------------------------------------------------------------


@pytest.fixture
def error_log():
    """What the django.request error handler writes, as configured in settings.LOGGING."""
    handlers = [
        h for h in logging.getLogger("django.request").handlers if isinstance(h, logging.StreamHandler)
    ]
    assert handlers, "django.request has no handler: production 500s would leave no trace"
    buffer = StringIO()
    previous = [handler.setStream(buffer) for handler in handlers]
    yield buffer
    for handler, stream in zip(handlers, previous, strict=True):
        handler.setStream(stream)


def test_a_production_server_error_is_logged_with_its_traceback(alice, monkeypatch, error_log):
    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr("tokens_app.views.account.render", broken)
    browser = Client(raise_request_exception=False)
    login(browser)
    response = browser.get("/accounts/sessions/")
    assert response.status_code == 500
    log = error_log.getvalue()
    assert "ERROR django.request Internal Server Error: /accounts/sessions/" in log
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: the disk is full" in log


def test_a_server_error_log_carries_no_cookie_token_password_or_reset_token(alice, monkeypatch, error_log):
    browser = Client(raise_request_exception=False)
    login(browser)
    browser.post("/accounts/password_reset/", {"email": alice.email})
    link = re.search(r"/accounts/reset/[^/\s]+/[^/\s]+/", mail.outbox[-1].body).group(0)
    reset_token = link.rstrip("/").rsplit("/", 1)[1]
    new_password = "a fresh secret passphrase 77"
    cookies = {name: morsel.value for name, morsel in browser.cookies.items()}
    assert {app_settings.ACCESS_COOKIE, app_settings.REFRESH_COOKIE, settings.CSRF_COOKIE_NAME} <= set(
        cookies
    )

    def careless(self, form):
        # The worst case: an error message that quotes the request.
        password = form.cleaned_data["new_password1"]
        raise RuntimeError(
            f"could not save {password!r} for {self.request.path} cookies={self.request.COOKIES!r}"
        )

    from tokens_app import views

    monkeypatch.setattr(views.PasswordResetConfirmView, "form_valid", careless)
    response = browser.post(
        link,
        {"new_password1": new_password, "new_password2": new_password},
        HTTP_AUTHORIZATION="Bearer abcdef123",
    )
    assert response.status_code == 500

    log = error_log.getvalue()
    assert "RuntimeError: could not save" in log
    assert "Internal Server Error: /accounts/reset/" in log
    for secret in [new_password, reset_token, *cookies.values()]:
        assert secret not in log, secret
    assert "eyJ" not in log  # no JWT, whatever cookie or message it came in
    assert PASSWORD not in log
