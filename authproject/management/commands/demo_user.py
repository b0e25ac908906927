from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create (or reset) the 'demo' account with a fresh password and print it. Development only."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="demo")

    def handle(self, *args, username: str, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_user only runs with DJANGO_DEBUG=1: it prints a password.")
        User = get_user_model()
        password = secrets.token_urlsafe(12)
        user, created = User._default_manager.get_or_create(
            username=username,
            defaults={"email": f"{username}@example.com", "is_staff": True, "is_superuser": True},
        )
        user.set_password(password)
        user.save()
        self.stdout.write(
            self.style.SUCCESS(f"Demo account: username {username!r}, password {password!r}")
            + " (staff; also opens /admin/)"
        )
