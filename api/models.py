"""api_client: who a REST token acts for.

A user with a client row bound to a ``customer_id`` is a *customer client*: it
sees and changes only that customer's rows. A user without a binding (no row,
or ``customer_id`` null) is a *staff/service client*: it sees every customer and
its rights are its Django permissions.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiClient(models.Model):
    """api_client: binds one API user (and so its token) to at most one customer."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_client", verbose_name=_("user")
    )
    customer_id = models.CharField(
        _("customer ID"),
        max_length=64,
        null=True,
        blank=True,
        db_index=True,
        help_text=_("Empty for a staff or service client, whose rights come from its permissions."),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "api_client"
        ordering = ["-id"]
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    def __str__(self):
        return f"{self.user} -> {self.customer_id or _('all customers')}"

    @property
    def is_customer_bound(self) -> bool:
        return bool(self.customer_id)
