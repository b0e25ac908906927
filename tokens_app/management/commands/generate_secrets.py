from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tokens_app.conf import app_settings
from tokens_app.keys import ASYMMETRIC_ALGORITHMS, generate_private_key_pem, public_pem, write_secret_file

# The settings a deployment keeps secret, in the order they are printed.
SECRET_SETTINGS = ("SECRET_KEY", "TOKENS_ACCESS_SECRET", "TOKENS_REFRESH_SECRET")


def generate_secret() -> str:
    # 48 random bytes, URL-safe: longer than the 32 bytes HS256 wants, and
    # safe to paste into an env file without quoting.
    return secrets.token_urlsafe(48)


def _line(setting: str, value: str) -> str:
    # Named as the project's settings read it: the setting's own name, or the
    # environment variable TOKENS_ENVIRONMENT_NAMES maps it to.
    return f"{app_settings.ENVIRONMENT_NAMES.get(setting, setting)}={value}"


class Command(BaseCommand):
    # It makes the secrets a new project is missing: the checks that report
    # them missing (tokens_app.E020) must not stop it.
    requires_system_checks: list[str] = []
    help = (
        "Print fresh secrets (SECRET_KEY, TOKENS_ACCESS_SECRET, TOKENS_REFRESH_SECRET, or the environment "
        "variables TOKENS_ENVIRONMENT_NAMES maps them to), one NAME=value line each, ready for an env "
        "file. With --algorithm "
        "EdDSA/ES256/RS256, also write a new access-token key pair to --key-file (mode 0600) and "
        "its public key beside it (KEY_FILE.pub), and print the lines that select them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--algorithm",
            choices=["HS256", *sorted(ASYMMETRIC_ALGORITHMS)],
            default="HS256",
            help="Signing algorithm of access tokens (default HS256: secrets only).",
        )
        parser.add_argument("--key-file", help="Where to write the private key (PEM, mode 0600).")
        parser.add_argument(
            "--key-only",
            action="store_true",
            help="Print only the key lines (for a key rotation: the other secrets stay).",
        )
        parser.add_argument("--force", action="store_true", help="Overwrite an existing --key-file.")

    def handle(
        self, *args: str, algorithm: str, key_file: str | None, key_only: bool, force: bool, **options: Any
    ) -> None:
        lines = [] if key_only else [_line(name, generate_secret()) for name in SECRET_SETTINGS]
        if algorithm in ASYMMETRIC_ALGORITHMS:
            if not key_file:
                raise CommandError(f"--algorithm {algorithm} needs --key-file PATH for the private key.")
            private_path = Path(key_file).resolve()
            public_path = private_path.with_name(private_path.name + ".pub")
            private = generate_private_key_pem(algorithm)
            try:
                write_secret_file(private_path, private, overwrite=force)
            except FileExistsError:
                raise CommandError(f"{private_path} exists; pass --force to replace it.") from None
            except OSError as exc:
                raise CommandError(f"Cannot write {private_path}: {exc.strerror}.") from None
            public_path.write_bytes(public_pem(private))
            self.stderr.write(f"Wrote {private_path} (private, 0600) and {public_path} (public).")
            lines += [
                _line("TOKENS_ACCESS_ALGORITHM", algorithm),
                _line("TOKENS_ACCESS_PRIVATE_KEY_FILE", str(private_path)),
            ]
        elif key_file or key_only:
            raise CommandError("--key-file and --key-only need --algorithm EdDSA, ES256 or RS256.")
        for line in lines:
            self.stdout.write(line)
