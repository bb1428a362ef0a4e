"""Create (or show) an API client and print its token.

    manage.py api_client console-cust-1001 --customer cust-1001   # a customer client
    manage.py api_client billing-meter --perm billing.add_usagesample   # a service client

A client bound to a customer sees and changes only that customer's rows; one
without a customer is a staff/service client whose rights are its permissions.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from api.models import ApiClient


class Command(BaseCommand):
    help = "Create or update an API client (user, customer binding, permissions) and print its token."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--customer", help="Bind the client to this customer ID.")
        parser.add_argument("--perm", action="append", default=[], help="app_label.codename; repeatable.")
        parser.add_argument("--description", default="")

    @transaction.atomic
    def handle(self, *args, username, customer, perm, description, **options):
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()  # token only: no admin login
            user.save(update_fields=["password"])
        ApiClient.objects.update_or_create(
            user=user, defaults={"customer_id": customer or None, "description": description}
        )
        for label in perm:
            app_label, _, codename = label.partition(".")
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is None:
                raise CommandError(f"unknown permission {label!r}")
            user.user_permissions.add(permission)
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
