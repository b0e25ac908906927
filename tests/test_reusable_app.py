"""The app as other projects use it: optional integrations stay unimported,
it speaks only its own settings, and never imports this site."""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from string import Formatter

import pytest
from django.core.checks import Error, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from tests.conftest import PASSWORD
from tokens_app.checks import MESSAGES, _message
from tokens_app.conf import app_settings

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "tokens_app"

_WITHOUT_DRF = """
import sys
import django
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

django.setup()
setup_test_environment()
call_command("migrate", verbosity=0)
call_command("check", fail_level="ERROR")
from django.contrib.auth import get_user_model
get_user_model().objects.create_user("alice", password="correct horse battery staple")
client = Client()
page = client.get("/accounts/login/")
assert page.status_code == 200, page.status_code
signed_in = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery staple"})
from tokens_app.conf import app_settings
assert signed_in.status_code == 302 and app_settings.ACCESS_COOKIE in signed_in.cookies, signed_in
home = client.get("/")
assert home.status_code == 200 and b"Hello, alice" in home.content, home.status_code
assert client.get("/api/auth/me/").status_code == 404
print(sorted(name for name in sys.modules if name.split(".")[0] in ("rest_framework", "drf_spectacular")))
"""


def test_a_site_without_drf_signs_in_and_imports_neither_drf_nor_drf_spectacular():
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_DRF],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_without_drf"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_of_the_app_imports_the_site():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imported_modules(path) if name.startswith("authproject")
        )
        for path in APP.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_api_imports_drf_spectacular_nowhere_but_in_the_schema_module():
    importers = sorted(
        str(path.relative_to(ROOT))
        for path in APP.rglob("*.py")
        if any(name.startswith("drf_spectacular") for name in _imported_modules(path))
    )
    assert importers == ["tokens_app/schema.py"]


# The app's own vocabulary ------------------------------------------------------------------------

# This site's environment variables: the app must not know them (authproject/environment.py maps them).
SITE_VARIABLES = re.compile(r"\b(ACCESS_TOKEN_\w+|REFRESH_TOKEN_\w+|REDIS_URL|DJANGO_[A-Z_]+)\b")


def test_no_module_of_the_app_names_this_sites_environment_variables():
    found = {
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in APP.rglob("*")
        if path.suffix in {".py", ".html", ".txt"} and "migrations" not in path.parts
        for match in SITE_VARIABLES.finditer(path.read_text())
    }
    assert found == set()


@pytest.mark.parametrize("check_id", sorted(MESSAGES))
def test_every_check_text_names_the_apps_settings_only(check_id, settings):
    settings.TOKENS_ENVIRONMENT_NAMES = {}
    # Every value the text takes, filled in; the TOKENS_*/CACHES names are the app's to fill.
    fields = {
        field: "x"
        for template in MESSAGES[check_id]
        for _, field, _, _ in Formatter().parse(template)
        if field and not field.isupper()
    }
    message = _message(Error, check_id, **fields)
    assert not SITE_VARIABLES.search(message.msg + message.hint), message


def test_a_check_hint_names_the_environment_variable_the_project_maps_a_setting_to(settings):
    settings.TOKENS_REFRESH_SECRET = settings.TOKENS_ACCESS_SECRET
    settings.TOKENS_ENVIRONMENT_NAMES = {}
    (plain,) = [m for m in run_checks() if m.id == "tokens_app.E004"]
    assert plain.hint.startswith("Set TOKENS_ACCESS_SECRET and TOKENS_REFRESH_SECRET (and ")
    settings.TOKENS_ENVIRONMENT_NAMES = {"TOKENS_ACCESS_SECRET": "MY_ACCESS_KEY"}
    (mapped,) = [m for m in run_checks() if m.id == "tokens_app.E004"]
    assert mapped.hint.startswith("Set TOKENS_ACCESS_SECRET (environment variable MY_ACCESS_KEY) and ")


@pytest.mark.parametrize("missing", ["TOKENS_REFRESH_SECRET", "TOKENS_ACCESS_SECRET"])
def test_a_missing_secret_setting_is_a_check_error_with_a_hint_not_a_traceback(missing, settings):
    settings.TOKENS_ENVIRONMENT_NAMES = {}
    delattr(settings, missing)
    errors = [m for m in run_checks() if m.id == "tokens_app.E020"]
    assert [m.msg for m in errors] == [f"The setting {missing} is required and is not set."]
    assert "generate_secrets" in errors[0].hint
    with pytest.raises(SystemCheckError, match="tokens_app.E020"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_an_empty_secret_setting_counts_as_missing(settings):
    settings.TOKENS_REFRESH_SECRET = ""
    assert "tokens_app.E020" in {m.id for m in run_checks()}


def test_a_missing_secret_at_request_time_is_an_error_that_names_the_setting(settings, alice):
    settings.TOKENS_ENVIRONMENT_NAMES = {}
    del settings.TOKENS_ACCESS_SECRET
    client = Client(raise_request_exception=True)
    with pytest.raises(
        ImproperlyConfigured, match=r"^The setting TOKENS_ACCESS_SECRET is required by tokens_app"
    ):
        client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})


def test_generate_secrets_prints_the_apps_settings_without_an_environment_mapping(settings):
    settings.TOKENS_ENVIRONMENT_NAMES = {}
    out = io.StringIO()
    call_command("generate_secrets", stdout=out)
    names = [line.partition("=")[0] for line in out.getvalue().splitlines()]
    assert names == ["SECRET_KEY", "TOKENS_ACCESS_SECRET", "TOKENS_REFRESH_SECRET"]


def test_the_default_issuer_does_not_name_this_site(settings):
    del settings.TOKENS_ISSUER
    assert app_settings.ISSUER == "tokens_app"


def test_tokens_app_after_the_admin_is_a_warning_since_the_admin_templates_would_win(settings):
    apps = [app for app in settings.INSTALLED_APPS if app != "tokens_app"]
    settings.INSTALLED_APPS = [*apps, "tokens_app"]
    assert "tokens_app.W020" in {m.id for m in run_checks()}
