from __future__ import annotations

from django.core.management.base import BaseCommand

from authproject.environment import SECRET_NAMES, generate_secret


class Command(BaseCommand):
    help = "Print fresh secrets, one NAME=value line each, ready for an env file."

    def handle(self, *args, **options) -> None:
        for name in SECRET_NAMES:
            self.stdout.write(f"{name}={generate_secret()}")
