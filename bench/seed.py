"""Prepare a benchmark database and write the credentials the arms send.

Run by bench/run.py as ``python -m bench.seed OUT_DIR REFRESH_TOKENS
[SIMPLEJWT_REFRESH_TOKENS]`` with DJANGO_SETTINGS_MODULE=bench.settings and the
backend's environment. Writes ``OUT_DIR/seed.json`` (cookies, password,
simplejwt's access token), ``OUT_DIR/refresh_tokens.txt`` and
``OUT_DIR/sjwt_refresh_tokens.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django

USERNAME = "bench"


def main(out_dir: Path, refresh_count: int, sjwt_count: int) -> None:
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import RequestFactory

    from tokens_app import flows
    from tokens_app.conf import app_settings

    call_command("migrate", verbosity=0, interactive=False)
    password = secrets.token_urlsafe(16)
    User = get_user_model()
    User.objects.filter(username=USERNAME).delete()
    # create_user hashes with the first of PASSWORD_HASHERS: Django's default, PBKDF2.
    user = User.objects.create_user(USERNAME, f"{USERNAME}@example.com", password)

    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_USER_AGENT="wrk")
    pair = flows.log_in(request, user)

    session_key = django_session(user)
    refresh_tokens(user, out_dir / "refresh_tokens.txt", refresh_count)
    sjwt_access = simplejwt_tokens(user, out_dir / "sjwt_refresh_tokens.txt", sjwt_count)

    csrf = secrets.token_hex(16)  # 32 characters: the length of Django's unmasked CSRF secret
    (out_dir / "seed.json").write_text(
        json.dumps(
            {
                "user_id": user.pk,
                "session_id": pair.access.claims.sid,
                "username": USERNAME,
                "password": password,
                "hasher": user.password.split("$", 1)[0],
                "cookies": {
                    app_settings.ACCESS_COOKIE: pair.access.token,
                    app_settings.REFRESH_COOKIE: pair.refresh.token,
                    settings.SESSION_COOKIE_NAME: session_key,
                    settings.CSRF_COOKIE_NAME: csrf,
                },
                "csrf": csrf,
                "csrf_cookie": settings.CSRF_COOKIE_NAME,
                "access_cookie": app_settings.ACCESS_COOKIE,
                "refresh_cookie": app_settings.REFRESH_COOKIE,
                "sjwt_access": sjwt_access,
            }
        )
    )


def django_session(user: Any) -> str:
    """A Django database session, exactly what django.contrib.auth.login() stores; its key."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def refresh_tokens(user: Any, path: Path, count: int) -> None:
    """One device session per refresh token, bulk-inserted: each request of the
    refresh arm presents a distinct token that is its session's current one."""
    from tokens_app.conf import app_settings
    from tokens_app.models import LoginSession
    from tokens_app.tokens import issue_refresh

    now = datetime.now(UTC)
    sessions = [
        LoginSession(
            user=user,
            created_at=now,
            last_used_at=now,
            expires_at=now + app_settings.REFRESH_LIFETIME,
            user_agent="wrk",
            current_jti=uuid.uuid4().hex,
        )
        for _ in range(count)
    ]
    LoginSession.objects.bulk_create(sessions, batch_size=2000)
    with path.open("w") as fh:
        for session in sessions:
            fh.write(
                issue_refresh(user, session_id=session.pk, jti=session.current_jti, now=now).token + "\n"
            )


def simplejwt_tokens(user: Any, path: Path, count: int) -> str:
    """simplejwt's access token for ``user``, and ``count`` refresh tokens in
    ``path``, each recorded as outstanding as ``RefreshToken.for_user`` does
    (bulk-inserted here: one INSERT each would take minutes)."""
    from rest_framework_simplejwt.settings import api_settings
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
    from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
    from rest_framework_simplejwt.utils import datetime_from_epoch

    tokens = []
    for _ in range(count):
        token = RefreshToken()
        token[api_settings.USER_ID_CLAIM] = user.pk
        tokens.append(token)
    OutstandingToken.objects.bulk_create(
        [
            OutstandingToken(
                user=user,
                jti=token[api_settings.JTI_CLAIM],
                token=str(token),
                created_at=token.current_time,
                expires_at=datetime_from_epoch(token["exp"]),
            )
            for token in tokens
        ],
        batch_size=2000,
    )
    path.write_text("".join(f"{token}\n" for token in tokens))
    return str(AccessToken.for_user(user))


def access_for(out_dir: Path, server: str) -> None:
    """An access token for the seeded user, signed with this environment's access key.

    For a server whose access key differs from the main one (the EdDSA arm):
    written to ``OUT_DIR/access_SERVER.txt``, naming the seeded device session.
    """
    django.setup()
    from tokens_app.models import LoginSession
    from tokens_app.tokens import issue_access

    session = LoginSession.objects.select_related("user").get(
        pk=json.loads((out_dir / "seed.json").read_text())["session_id"]
    )
    (out_dir / f"access_{server}.txt").write_text(
        issue_access(session.user, session_id=session.pk).token + "\n"
    )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("refresh_tokens", type=int)
    parser.add_argument("sjwt_refresh_tokens", type=int, nargs="?", default=0)
    parser.add_argument(
        "--access-for", metavar="SERVER", help="only write an access token signed by SERVER's key"
    )
    args = parser.parse_args()
    if args.access_for:
        access_for(args.out_dir, args.access_for)
    else:
        main(args.out_dir, args.refresh_tokens, args.sjwt_refresh_tokens)
