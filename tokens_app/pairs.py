"""The pair of tokens a device session is handed: what log in, refresh and
re-authentication all answer with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser

from .lifetimes import session_deadline
from .models import LoginSession
from .tokens import IssuedToken, issue_access, issue_refresh


@dataclass(frozen=True)
class TokenPair:
    access: IssuedToken
    refresh: IssuedToken
    user: AbstractBaseUser
    # Set by a sign-in only: the device cookie that lets this browser past
    # the account-wide login limit later (throttling.py).
    device: str | None = None
    # "Remember me": False gives browser-session cookies (cookies.py).
    persistent: bool = True


def issue_pair(user: AbstractBaseUser, session: LoginSession, *, now: datetime) -> TokenPair:
    """Tokens for ``session``'s current jti: capped at its deadline, carrying its auth_time."""
    deadline = session_deadline(session)
    auth_time = session.auth_time or session.created_at
    return TokenPair(
        access=issue_access(user, session_id=session.pk, now=now, not_after=deadline, auth_time=auth_time),
        refresh=issue_refresh(
            user,
            session_id=session.pk,
            jti=session.current_jti,
            now=now,
            not_after=deadline,
            auth_time=auth_time,
        ),
        user=user,
        persistent=session.persistent,
    )
