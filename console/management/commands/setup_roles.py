"""Create or update the Ops, Finance and Auditor groups from console/roles.py (idempotent)."""

from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from console.roles import roles_sync


class Command(BaseCommand):
    help = "Create or update the Ops, Finance and Auditor groups from console/roles.py (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--strict", action="store_true", help="Exit with an error when a listed permission does not exist."
        )

    def handle(self, *args, strict=False, **options):
        with transaction.atomic():
            reports = roles_sync(group_model=Group, permission_model=Permission)
        missing_any = False
        for report in reports:
            verb = "created" if report.created else "up to date" if not (report.added or report.removed) else "updated"
            self.stdout.write(
                f"{report.name}: {verb}, {report.granted} permissions (+{len(report.added)} -{len(report.removed)})"
            )
            for entry in report.missing:
                missing_any = True
                self.stdout.write(self.style.WARNING(f"  {report.name}: {entry} matches no permission yet, skipped"))
        if strict and missing_any:
            raise CommandError("some listed permissions do not exist (see above)")
