"""Write the OpenAPI schema to api/openapi.yaml, or (--check) fail when it drifted.

The schema is generated with drf-spectacular's validation on and every warning
treated as an error, in English, so the committed file is the same on every machine.
"""

import difflib
import io
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "openapi.yaml"


def generate_schema() -> str:
    """The schema as YAML; raises CommandError on any warning or validation error."""
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--lang", "en", stdout=out, stderr=io.StringIO())
    return out.getvalue()


class Command(BaseCommand):
    help = "Regenerate api/openapi.yaml, or with --check fail if it differs from the code."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Compare instead of writing.")

    def handle(self, *args, check=False, **options):
        schema = generate_schema()
        if not check:
            SCHEMA_FILE.write_text(schema, encoding="utf-8")
            self.stdout.write(f"Wrote {SCHEMA_FILE}")
            return
        committed = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
        if committed != schema:
            diff = "".join(
                difflib.unified_diff(
                    committed.splitlines(keepends=True), schema.splitlines(keepends=True), "committed", "generated"
                )
            )
            raise CommandError(
                f"{SCHEMA_FILE.name} is out of date; run `manage.py api_schema` and commit it.\n{diff[:5000]}"
            )
        self.stdout.write("Schema up to date.")
