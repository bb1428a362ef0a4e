"""Create the first superuser once, for ``make run``.

The password comes from ``DJANGO_SUPERUSER_PASSWORD``; without it one is
generated and printed this one time. Running again changes nothing.
"""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin superuser if it does not exist yet."

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Superuser {username!r} already exists.")
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
            self.stdout.write(self.style.SUCCESS(f"Superuser {username!r} created with DJANGO_SUPERUSER_PASSWORD."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Superuser {username!r} created. Password (shown once): {password}"))
