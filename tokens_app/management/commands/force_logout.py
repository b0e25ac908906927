from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tokens_app import flows


class Command(BaseCommand):
    help = "End every session of the named users (or of all users with --all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("usernames", nargs="*", metavar="USERNAME")
        parser.add_argument("--all", action="store_true", help="Log out every user.")

    def handle(self, *args: str, usernames: list[str], all: bool, **options: Any) -> None:
        User = get_user_model()
        if all == bool(usernames):
            raise CommandError("Name one or more usernames, or pass --all (not both).")
        if all:
            users = list(User._default_manager.order_by("pk"))
        else:
            field = User.USERNAME_FIELD
            users = list(User._default_manager.filter(**{f"{field}__in": usernames}))
            unknown = sorted(set(usernames) - {u.get_username() for u in users})
            if unknown:
                raise CommandError(f"Unknown username(s): {', '.join(unknown)}. Nobody was logged out.")
        count = flows.force_logout(users, reason="force_logout_command")
        self.stdout.write(self.style.SUCCESS(f"Logged out {count} user(s)."))
