"""Reading the process environment into settings.

Everything deployment-specific arrives through environment variables. The
helpers here turn them into typed values and decide what happens when a secret
is missing: in development one is generated once and kept in an untracked file;
in production start-up stops and says what to set.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# re.ASCII: without it \d also matches other scripts' digits ("١٥m" would pass).
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.IGNORECASE | re.ASCII)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# The secrets a deployment must provide; generate_secrets prints all of them.
SECRET_NAMES = ("DJANGO_SECRET_KEY", "ACCESS_TOKEN_SECRET", "REFRESH_TOKEN_SECRET")

# This site's environment variables for the token app's settings (and Django's
# own that the app's messages mention): TOKENS_ENVIRONMENT_NAMES, so the app's
# check hints, errors and generate_secrets speak the operator's vocabulary.
SETTING_VARIABLES = {
    "SECRET_KEY": "DJANGO_SECRET_KEY",
    "TOKENS_ACCESS_SECRET": "ACCESS_TOKEN_SECRET",
    "TOKENS_REFRESH_SECRET": "REFRESH_TOKEN_SECRET",
    "TOKENS_ACCESS_SECRET_FALLBACKS": "ACCESS_TOKEN_SECRET_FALLBACKS",
    "TOKENS_REFRESH_SECRET_FALLBACKS": "REFRESH_TOKEN_SECRET_FALLBACKS",
    "TOKENS_ACCESS_ALGORITHM": "ACCESS_TOKEN_ALGORITHM",
    "TOKENS_ACCESS_PRIVATE_KEY_FILE": "ACCESS_TOKEN_PRIVATE_KEY_FILE",
    "TOKENS_ACCESS_PUBLIC_KEY_FALLBACK_FILES": "ACCESS_TOKEN_PUBLIC_KEY_FALLBACK_FILES",
    "TOKENS_ACCESS_LIFETIME": "ACCESS_TOKEN_EXPIRY",
    "TOKENS_REFRESH_LIFETIME": "REFRESH_TOKEN_EXPIRY",
    "CACHES": "REDIS_URL",
}


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip()
    # isdecimal() alone would also take other scripts' digits.
    if not (value.isascii() and value.isdecimal()) or int(value) < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number of at least {minimum}.")
    return int(value)


def parse_duration(value: str) -> timedelta:
    """Parse ``900``, ``90s``, ``15m``, ``12h``, ``7d`` or ``2w`` into a timedelta."""
    match = _DURATION.match(value)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(value)
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])


def env_duration(name: str, default: str) -> timedelta:
    raw = os.environ.get(name, default)
    try:
        return parse_duration(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a duration: give seconds (900) or a number with a unit "
            "s, m, h, d or w (15m, 7d)."
        ) from None


def generate_secret() -> str:
    # 48 random bytes, URL-safe: longer than the 32 bytes HS256 wants, and
    # safe to paste into an env file without quoting.
    return secrets.token_urlsafe(48)


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
    return values


def load_secrets(*, debug: bool, local_file: Path) -> dict[str, str]:
    """Return every secret in SECRET_NAMES.

    The environment wins. In development a missing secret is generated once and
    appended to ``local_file`` (git-ignored), so restarts keep their sessions.
    In production a missing secret is a configuration error.
    """
    found = {name: os.environ[name] for name in SECRET_NAMES if os.environ.get(name)}
    missing = [name for name in SECRET_NAMES if name not in found]
    if not missing:
        return found
    if os.environ.get("AUTHPROJECT_THROWAWAY_SECRETS") == "1":
        return {**{name: generate_secret() for name in missing}, **found}
    if not debug:
        raise ImproperlyConfigured(
            "Missing secret(s) in the environment: {}. Set them before starting in production "
            "(DJANGO_DEBUG off); `python manage.py generate_secrets` prints fresh values ready "
            "for an env file.".format(", ".join(missing))
        )
    stored = _read_env_file(local_file)
    new = {name: generate_secret() for name in missing if not stored.get(name)}
    if new:
        local_file.parent.mkdir(parents=True, exist_ok=True)
        with local_file.open("a") as fh:
            if local_file.stat().st_size == 0:
                fh.write("# Development secrets generated on first start. Never commit this file.\n")
            fh.writelines(f"{name}={value}\n" for name, value in new.items())
        local_file.chmod(0o600)
        stored.update(new)
    return {**{name: stored[name] for name in missing}, **found}


def database_from_url(url: str, *, base_dir: Path) -> dict:
    """Translate ``DATABASE_URL`` into a DATABASES entry.

    ``sqlite:///relative.sqlite3``, ``sqlite:////abs/path`` and
    ``postgres://user:pass@host:port/name?sslmode=require`` are understood.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        name = Path(path) if Path(path).is_absolute() else base_dir / path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            # BEGIN IMMEDIATE takes the write lock up front, so two concurrent
            # refreshes serialise instead of one failing with "database is locked".
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    if scheme in {"postgres", "postgresql", "pgsql"}:
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # Keep connections between requests; health checks drop dead ones
            # after a server restart instead of failing one request per worker.
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {scheme!r} is not supported: use sqlite:///path or postgres://..."
    )
