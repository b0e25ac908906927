from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Q
from django.utils import timezone

from tokens_app.conf import app_settings
from tokens_app.models import LoginSession


class Command(BaseCommand):
    help = (
        "Delete expired device sessions and those revoked longer ago than "
        "TOKENS_PRUNE_REVOKED_AFTER, in batches. Run it daily from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: str, batch_size: int, **options: Any) -> None:
        now = timezone.now()
        doomed = LoginSession.objects.filter(
            Q(expires_at__lte=now) | Q(revoked_at__lte=now - app_settings.PRUNE_REVOKED_AFTER)
        )
        total = 0
        while True:
            # Small batches keep each DELETE's locks short on a busy table.
            ids = list(doomed.values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            deleted, _ = LoginSession.objects.filter(pk__in=ids).delete()
            total += deleted
        self.stdout.write(self.style.SUCCESS(f"Deleted {total} session(s)."))
