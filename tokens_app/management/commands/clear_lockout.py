from __future__ import annotations

import ipaddress
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tokens_app import throttling


class Command(BaseCommand):
    help = (
        "Clear the login lockout of the named users (failed logins are forgotten), "
        "and with --ip the per-IP login, reset and refresh counts of an address."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("usernames", nargs="*", metavar="USERNAME")
        parser.add_argument("--ip", action="append", default=[], metavar="ADDRESS", help="Also clear an IP.")

    def handle(self, *args: str, usernames: list[str], ip: list[str], **options: Any) -> None:
        if not usernames and not ip:
            raise CommandError("Name one or more usernames, or pass --ip ADDRESS.")
        for address in ip:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise CommandError(f"Not an IP address: {address!r}. Nothing was cleared.") from None
        User = get_user_model()
        field = User.USERNAME_FIELD
        users = list(User._default_manager.filter(**{f"{field}__in": usernames}))
        unknown = sorted(set(usernames) - {u.get_username() for u in users})
        if unknown:
            raise CommandError(f"Unknown username(s): {', '.join(unknown)}. Nothing was cleared.")
        for user in users:
            was_locked = throttling.clear_lockout(user)
            state = "was locked, now cleared" if was_locked else "was not locked"
            self.stdout.write(f"{user.get_username()}: {state}.")
        for address in ip:
            throttling.clear_ip(address)
            self.stdout.write(f"{address}: per-IP counts cleared.")
        self.stdout.write(self.style.SUCCESS("Done."))
