"""Keep the demo data moving: one tick (``--once``, as beat does) or a bounded loop of ticks."""

import random
import time

from django.core.management.base import BaseCommand, CommandError

from common.errors import DomainError
from demo.services import demo_tick


class Command(BaseCommand):
    help = "Place demo operations and orders on the simulated cloud, with some failures and renewals falling due."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one tick and stop.")
        parser.add_argument("--ticks", type=int, default=10, help="Number of ticks (default 10).")
        parser.add_argument("--interval", type=float, default=10.0, help="Seconds between ticks (default 10).")
        parser.add_argument("--operations", type=int, default=2, help="Operations placed per tick (default 2).")
        parser.add_argument("--seed", type=int, default=None, help="Seed of the random choices (repeatable runs).")

    def handle(self, *args, **options):
        ticks = 1 if options["once"] else options["ticks"]
        if ticks < 1 or options["interval"] < 0:
            raise CommandError("--ticks must be 1 or more and --interval 0 or more.")
        rng = random.Random(options["seed"])
        for number in range(1, ticks + 1):
            try:
                report = demo_tick(rng=rng, operations=options["operations"])
            except DomainError as refusal:
                raise CommandError(refusal.message) from None
            self.stdout.write(
                f"tick {number}/{ticks}: {len(report.operations)} operations, {len(report.orders)} orders, "
                f"{len(report.retried)} retried, {len(report.fell_due)} falling due, {len(report.refused)} refused"
            )
            for line in report.refused:
                self.stdout.write(f"  refused: {line}")
            if number < ticks:
                time.sleep(options["interval"])
