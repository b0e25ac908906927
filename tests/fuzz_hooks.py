"""schemathesis hooks for tests/test_fuzz_schema.py (loaded via SCHEMATHESIS_HOOKS).

CSRF is not authentication, so it is not in the schema's security schemes,
but every unsafe request needs it: the csrftoken cookie and the X-CSRFToken
header ride along on every case, unless the case already sets them. The
access cookie itself comes through schemathesis' own auth config, so its
negative tests (no cookie, a wrong cookie) stay honest.
"""

from __future__ import annotations

import os

import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    token = os.environ.get("FUZZ_CSRF_TOKEN")
    if not token:
        return
    case.cookies = {"__Host-csrftoken": token, **(case.cookies or {})}
    case.headers = {"X-CSRFToken": token, **(case.headers or {})}
    refresh = os.environ.get("FUZZ_REFRESH_TOKEN")
    if refresh:
        case.cookies.setdefault("__Host-refresh_token", refresh)
