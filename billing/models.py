"""Billing tables (计费与产品相关): item types and their unit prices."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class ChargeKind(models.TextChoices):
    """How an item's quantity for a period is found (the notes' three kinds).

    - amount (用量型): charge what was used in the period, the sum of its usage samples;
    - number (数量型): charge how many, the count the resource holds in the period;
    - peak (峰值型): charge the period's peak, the largest sample.
    """

    AMOUNT = "amount", _("amount (usage)")
    NUMBER = "number", _("number (count)")
    PEAK = "peak", _("peak")


class BillingCycle(models.TextChoices):
    HOUR = "hour", _("hour")
    MONTH = "month", _("month")
    YEAR = "year", _("year")


class BillingItemType(models.Model):
    """bc_billing_item_type (计费项类型表)."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    unit = models.CharField(_("unit"), max_length=16, help_text=_("GB, core, Mbps, count, ..."))
    charge_kind = models.CharField(_("charge kind"), max_length=8, choices=ChargeKind.choices)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "bc_billing_item_type"
        ordering = ["code"]
        verbose_name = _("billing item type")
        verbose_name_plural = _("billing item types")

    def __str__(self):
        return f"{self.name} ({self.code})"


class BillResourcesPrice(models.Model):
    """bc_bill_resources_price (计费单元): a unit price valid over [valid_from, valid_to)."""

    item_type = models.ForeignKey(
        BillingItemType, models.PROTECT, related_name="prices", verbose_name=_("billing item type")
    )
    site_id = models.CharField(_("site ID"), max_length=64)
    billing_cycle = models.CharField(_("billing cycle"), max_length=8, choices=BillingCycle.choices)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    unit_price = models.DecimalField(_("unit price"), max_digits=20, decimal_places=8)
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "bc_bill_resources_price"
        ordering = ["item_type_id", "site_id", "billing_cycle", "-valid_from"]
        verbose_name = _("billing unit price")
        verbose_name_plural = _("billing unit prices")
        indexes = [
            models.Index(fields=["item_type", "site_id", "billing_cycle", "valid_from"], name="bc_price_lookup"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["item_type", "site_id", "billing_cycle", "valid_from"], name="bc_price_start_uniq"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")), name="bc_price_valid_range"
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="bc_price_not_negative"),
        ]

    def __str__(self):
        return f"{self.item_type.code} {self.site_id} {self.billing_cycle} {self.unit_price} {self.currency}"
