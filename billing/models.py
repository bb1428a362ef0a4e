"""Billing tables (计费与产品相关): item types, unit prices, usage samples and charge lines."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class ChargeKind(models.TextChoices):
    """How an item's quantity for a period is found from its usage samples (the notes' three kinds).

    For one resource, one item and one period [start, end), over the samples whose
    ``sampled_at`` falls in the period (each ``sample_id`` counted once):

    - amount (用量型, "use how much, charge how much"): the SUM of the sample values.
      Each sample is the usage since the previous one (GB of traffic, say).
      Samples 2, 5, 3 give 10.
    - number (数量型): the COUNT of samples, whatever their values. A meter sends
      one sample per unit the resource holds in the period (one per public IP
      bound to the NIC in that hour, with its own ``sample_id``). Samples 2, 5, 3
      give 3.
    - peak (峰值型, "charge by the peak"): the MAX of the sample values, the level
      the resource reached (Mbps of bandwidth, cores after a resize).
      Samples 2, 5, 3 give 5.

    The aggregate runs in the database (SUM / COUNT / MAX with GROUP BY).
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


class UsageSample(models.Model):
    """bc_usage_sample: one metered value of one item for one resource at one time.

    ``sample_id`` is chosen by the sender and unique: a resent sample is ignored,
    so a batch can be sent again safely.
    """

    sample_id = models.CharField(_("sample ID"), max_length=64, unique=True)
    customer_id = models.CharField(_("customer ID"), max_length=64)
    site_id = models.CharField(_("site ID"), max_length=64)
    resource_type = models.CharField(_("resource type"), max_length=16)
    resource_id = models.CharField(_("resource ID"), max_length=64)
    item_type = models.ForeignKey(
        BillingItemType, models.PROTECT, related_name="+", verbose_name=_("billing item type")
    )
    value = models.DecimalField(_("value"), max_digits=24, decimal_places=6)
    sampled_at = models.DateTimeField(_("sampled at"))
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        db_table = "bc_usage_sample"
        ordering = ["-sampled_at", "-id"]
        verbose_name = _("usage sample")
        verbose_name_plural = _("usage samples")
        indexes = [
            models.Index(fields=["sampled_at", "item_type"], name="bc_usage_period"),
            models.Index(fields=["resource_id", "item_type", "sampled_at"], name="bc_usage_resource"),
            # Late samples: received since the last run, sampled in an earlier period.
            models.Index(fields=["received_at", "sampled_at"], name="bc_usage_received"),
        ]
        constraints = [models.CheckConstraint(condition=Q(value__gte=0), name="bc_usage_not_negative")]

    def __str__(self):
        return f"{self.resource_id} {self.item_type_id} {self.value} @ {self.sampled_at:%Y-%m-%d %H:%M}"


class ChargePeriod(models.Model):
    """bc_charge_period: a period that has been charged, hence closed.

    One row per billing cycle and period start. Its lines are never rewritten: a
    sample that arrives later is charged by an adjustment line in a later run.
    """

    billing_cycle = models.CharField(_("billing cycle"), max_length=8, choices=BillingCycle.choices)
    period_start = models.DateTimeField(_("period start"))
    period_end = models.DateTimeField(_("period end"))
    currency = models.CharField(_("currency"), max_length=3)
    started_at = models.DateTimeField(_("charging started at"))
    closed_at = models.DateTimeField(_("closed at"))
    line_count = models.PositiveIntegerField(_("lines"), default=0)
    adjustment_count = models.PositiveIntegerField(_("adjustment lines"), default=0)

    class Meta:
        db_table = "bc_charge_period"
        ordering = ["-period_start", "billing_cycle"]
        verbose_name = _("charged period")
        verbose_name_plural = _("charged periods")
        constraints = [
            models.UniqueConstraint(fields=["billing_cycle", "period_start"], name="bc_charge_period_uniq"),
            models.CheckConstraint(condition=Q(period_end__gt=F("period_start")), name="bc_charge_period_range"),
        ]

    def __str__(self):
        return f"{self.billing_cycle} {self.period_start:%Y-%m-%d %H:%M}"


class ChargeLineKind(models.TextChoices):
    NORMAL = "normal", _("normal")
    ADJUSTMENT = "adjustment", _("adjustment")


class ChargeLine(models.Model):
    """bc_charge_line: what one resource owes for one item in one period.

    ``period_*`` is the period the line is booked in; ``usage_period_*`` the
    period whose usage it charges. They are equal for a normal line; an
    adjustment line books a late sample's difference in a later (open) period.
    ``amount_exact`` = quantity x unit price, unrounded; ``amount`` is it rounded
    once by :func:`billing.money.round_money`.
    """

    billing_cycle = models.CharField(_("billing cycle"), max_length=8, choices=BillingCycle.choices)
    period_start = models.DateTimeField(_("period start"))
    period_end = models.DateTimeField(_("period end"))
    usage_period_start = models.DateTimeField(_("usage period start"))
    usage_period_end = models.DateTimeField(_("usage period end"))
    kind = models.CharField(_("kind"), max_length=12, choices=ChargeLineKind.choices, default=ChargeLineKind.NORMAL)
    customer_id = models.CharField(_("customer ID"), max_length=64)
    site_id = models.CharField(_("site ID"), max_length=64)
    resource_type = models.CharField(_("resource type"), max_length=16)
    resource_id = models.CharField(_("resource ID"), max_length=64)
    item_type = models.ForeignKey(
        BillingItemType, models.PROTECT, related_name="+", verbose_name=_("billing item type")
    )
    quantity = models.DecimalField(_("quantity"), max_digits=28, decimal_places=6)
    unit_price = models.DecimalField(_("unit price"), max_digits=20, decimal_places=8)
    price = models.ForeignKey(
        BillResourcesPrice, models.PROTECT, related_name="charge_lines", verbose_name=_("price used")
    )
    amount_exact = models.DecimalField(_("exact amount"), max_digits=36, decimal_places=14)
    amount = models.DecimalField(_("amount"), max_digits=24, decimal_places=4)
    currency = models.CharField(_("currency"), max_length=3)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "bc_charge_line"
        ordering = ["-period_start", "customer_id", "resource_id", "item_type_id"]
        verbose_name = _("charge line")
        verbose_name_plural = _("charge lines")
        permissions = [("export_chargeline", _("Can export charge lines as CSV"))]
        indexes = [
            models.Index(fields=["customer_id", "period_start"], name="bc_charge_customer"),
            models.Index(fields=["period_start", "item_type"], name="bc_charge_period_item"),
        ]
        constraints = [
            models.UniqueConstraint(
                # usage_period_start leads (after the cycle): adjustments look up what a closed period charged.
                fields=[
                    "billing_cycle",
                    "usage_period_start",
                    "period_start",
                    "customer_id",
                    "resource_type",
                    "resource_id",
                    "item_type",
                ],
                name="bc_charge_line_uniq",
            ),
            models.CheckConstraint(condition=Q(period_end__gt=F("period_start")), name="bc_charge_line_period"),
            models.CheckConstraint(
                condition=Q(kind="normal", usage_period_start=F("period_start"))
                | Q(kind="adjustment", usage_period_start__lt=F("period_start"))
                | Q(kind="adjustment", usage_period_start__gt=F("period_start")),
                name="bc_charge_line_kind_period",
            ),
        ]

    def __str__(self):
        return (
            f"{self.resource_id} {self.item_type_id} {self.period_start:%Y-%m-%d %H:%M} {self.amount} {self.currency}"
        )
