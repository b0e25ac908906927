from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from authproject.environment import SECRET_NAMES, generate_secret
from tokens_app.keys import ASYMMETRIC_ALGORITHMS, generate_private_key_pem, public_pem, write_secret_file


class Command(BaseCommand):
    help = (
        "Print fresh secrets, one NAME=value line each, ready for an env file. With --algorithm "
        "EdDSA/ES256/RS256, also write a new access-token key pair to --key-file (mode 0600) and "
        "its public key beside it (KEY_FILE.pub), and print the lines that select them."
    )

    def add_arguments(self, parser) -> None:
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

    def handle(self, *args, algorithm: str, key_file: str | None, key_only: bool, force: bool, **options):
        lines = [] if key_only else [f"{name}={generate_secret()}" for name in SECRET_NAMES]
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
            lines += [f"ACCESS_TOKEN_ALGORITHM={algorithm}", f"ACCESS_TOKEN_PRIVATE_KEY_FILE={private_path}"]
        elif key_file or key_only:
            raise CommandError("--key-file and --key-only need --algorithm EdDSA, ES256 or RS256.")
        for line in lines:
            self.stdout.write(line)
