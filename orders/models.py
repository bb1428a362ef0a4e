"""Order tables (订单): orders, sub-orders, renewals and the renewal log."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 18, "decimal_places": 4}


class OrderStatus(models.TextChoices):
    NEW = "NEW", _("new (unpaid)")
    PAID = "PAID", _("paid")
    PROVISIONING = "PROVISIONING", _("provisioning")
    SUCCEEDED = "SUCCEEDED", _("succeeded")
    FAILED = "FAILED", _("failed")
    CANCELLED = "CANCELLED", _("cancelled")


class OrderFailReason(models.TextChoices):
    """Why an order failed; the notes' example is 程序出错 (program error)."""

    PROGRAM_ERROR = "program_error", _("program error")
    NO_CAPACITY = "no_capacity", _("no capacity")
    INVALID_SPEC = "invalid_spec", _("invalid spec")
    PAYMENT_FAILED = "payment_failed", _("payment failed")


class SubOrderStatus(models.TextChoices):
    NEW = "NEW", _("new")
    PROVISIONING = "PROVISIONING", _("provisioning")
    ACTIVE = "ACTIVE", _("active")
    FAILED = "FAILED", _("failed")
    SUSPENDED = "SUSPENDED", _("suspended")
    CANCELLED = "CANCELLED", _("cancelled")


class RenewalStatus(models.TextChoices):
    PENDING = "PENDING", _("pending")
    SUCCEEDED = "SUCCEEDED", _("succeeded")
    FAILED = "FAILED", _("failed")


class RenewalFailReason(models.TextChoices):
    INSUFFICIENT_BALANCE = "insufficient_balance", _("insufficient balance")
    NO_VALID_PRICE = "no_valid_price", _("no valid price")
    RESOURCE_GONE = "resource_gone", _("resource gone")
    PROGRAM_ERROR = "program_error", _("program error")


class ShopOrder(models.Model):
    """shop_order (订单)."""

    order_no = models.CharField(_("order number"), max_length=32, unique=True)
    customer_id = models.CharField(_("customer ID"), max_length=64, db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.NEW)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    total_amount = models.DecimalField(_("total amount"), default=0, **MONEY)
    fail_reason = models.CharField(_("failure reason"), max_length=32, choices=OrderFailReason.choices, blank=True)
    fail_detail = models.TextField(_("failure detail"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "shop_order"
        ordering = ["-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["status", "created_at"], name="shop_order_status_created"),
            models.Index(fields=["created_at"], name="shop_order_created"),
        ]
        constraints = [models.CheckConstraint(condition=Q(total_amount__gte=0), name="shop_order_total_not_negative")]

    def __str__(self):
        return self.order_no


class ShopSubOrder(models.Model):
    """shop_suborder (子订单): one purchased resource of an order."""

    order = models.ForeignKey(ShopOrder, models.CASCADE, related_name="suborders", verbose_name=_("order"))
    customer_id = models.CharField(_("customer ID"), max_length=64, db_index=True)
    resource_type = models.CharField(_("resource type"), max_length=32)
    resource_id = models.CharField(_("resource ID"), max_length=64, blank=True, db_index=True)
    site_id = models.CharField(_("site ID"), max_length=64)
    spec = models.JSONField(_("specification"), default=dict, blank=True)
    billing_cycle = models.CharField(
        _("billing cycle"), max_length=8, choices=[("month", _("month")), ("year", _("year"))]
    )
    periods = models.PositiveSmallIntegerField(_("number of periods"), default=1)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    unit_price = models.DecimalField(_("price per period"), default=0, **MONEY)
    amount = models.DecimalField(_("amount"), default=0, **MONEY)
    status = models.CharField(_("status"), max_length=16, choices=SubOrderStatus.choices, default=SubOrderStatus.NEW)
    auto_renew = models.BooleanField(_("auto-renew"), default=True)
    service_start = models.DateTimeField(_("service start"), null=True, blank=True)
    expire_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    task = models.ForeignKey(
        "tasks.CloudTask",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("provisioning task"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "shop_suborder"
        ordering = ["-id"]
        verbose_name = _("sub-order")
        verbose_name_plural = _("sub-orders")
        indexes = [
            models.Index(fields=["auto_renew", "expire_at"], name="shop_suborder_renew_due"),
            models.Index(fields=["resource_type", "resource_id"], name="shop_suborder_resource"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(periods__gte=1), name="shop_suborder_periods_gte_1"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="shop_suborder_amount_not_negative"),
        ]

    def __str__(self):
        return f"sub-order #{self.pk} {self.resource_type} of {self.order_id}"


class ShopSuborderRenewal(models.Model):
    """shop_suborder_renewal (续约): one renewal of a sub-order for one period.

    A failed renewal keeps ``is_valid = 0`` until a person fixes the cause and
    marks it valid (将is_valid手动更改为1).
    """

    suborder = models.ForeignKey(ShopSubOrder, models.PROTECT, related_name="renewals", verbose_name=_("sub-order"))
    period_start = models.DateTimeField(_("period start"))
    period_end = models.DateTimeField(_("period end"))
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    amount = models.DecimalField(_("amount"), default=0, **MONEY)
    price_lines = models.JSONField(_("price lines"), default=list, blank=True)
    is_valid = models.BooleanField(_("is valid"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=RenewalStatus.choices, default=RenewalStatus.PENDING)
    fail_reason = models.CharField(_("failure reason"), max_length=32, choices=RenewalFailReason.choices, blank=True)
    fail_detail = models.TextField(_("failure detail"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_retry_at = models.DateTimeField(_("next retry at"), null=True, blank=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "shop_suborder_renewal"
        ordering = ["-id"]
        verbose_name = _("sub-order renewal")
        verbose_name_plural = _("sub-order renewals")
        permissions = [
            ("mark_renewal_valid", _("Can mark a failed renewal valid (is_valid=1)")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["suborder", "period_start"], name="shop_renewal_one_per_period"),
            models.CheckConstraint(condition=Q(period_end__gt=F("period_start")), name="shop_renewal_period_order"),
        ]
        indexes = [
            models.Index(fields=["status", "next_retry_at"], name="shop_renewal_status_retry"),
            models.Index(fields=["period_start"], name="shop_renewal_period_start"),
        ]

    def __str__(self):
        return f"renewal #{self.pk} of sub-order {self.suborder_id} from {self.period_start:%Y-%m-%d}"


class RenewalLogAction(models.TextChoices):
    ATTEMPT = "attempt", _("renewal attempt")
    MARK_VALID = "mark_valid", _("marked valid")
    SUSPEND = "suspend", _("suspended")
    RESUME = "resume", _("resumed")


class RenewalLogOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")
    FIXED = "fixed", _("fixed by hand")


class ShopRenewalLog(models.Model):
    """shop_renewal_log (续约日志表): append-only log of renewal attempts and fixes."""

    renewal = models.ForeignKey(
        ShopSuborderRenewal,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="logs",
        verbose_name=_("renewal"),
    )
    suborder = models.ForeignKey(ShopSubOrder, models.PROTECT, related_name="renewal_logs", verbose_name=_("sub-order"))
    customer_id = models.CharField(_("customer ID"), max_length=64, db_index=True)
    site_id = models.CharField(_("site ID"), max_length=64, blank=True)
    billing_cycle = models.CharField(_("billing cycle"), max_length=8, blank=True)
    period_start = models.DateTimeField(_("period start"), null=True, blank=True)
    period_end = models.DateTimeField(_("period end"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=RenewalLogAction.choices)
    outcome = models.CharField(_("outcome"), max_length=16, choices=RenewalLogOutcome.choices)
    reason = models.TextField(_("reason"), blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    amount = models.DecimalField(_("amount"), null=True, blank=True, **MONEY)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("operator")
    )
    operator_name = models.CharField(
        _("operator name"), max_length=150, help_text=_("The user, or the scheduler for automatic runs.")
    )
    fail_reason = models.CharField(
        _("failure reason"), max_length=32, choices=RenewalFailReason.choices, blank=True, db_index=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        db_table = "shop_renewal_log"
        ordering = ["-id"]
        verbose_name = _("renewal log")
        verbose_name_plural = _("renewal logs")
        permissions = [
            ("export_renewallog", _("Can export renewal logs as CSV")),
        ]

    def __str__(self):
        return f"renewal log #{self.pk} {self.action} {self.outcome}"


class LedgerKind(models.TextChoices):
    DEBIT = "debit", _("debit")
    CREDIT = "credit", _("credit")


class CustomerAccount(models.Model):
    """shop_customer_account: one prepaid balance per customer.

    The balance only moves together with an :class:`AccountLedgerEntry`, under a
    row lock, in ``orders.services.accounts``; the database refuses a negative one.
    """

    customer_id = models.CharField(_("customer ID"), max_length=64, unique=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    balance = models.DecimalField(_("balance"), default=0, **MONEY)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "shop_customer_account"
        ordering = ["customer_id"]
        verbose_name = _("customer account")
        verbose_name_plural = _("customer accounts")
        permissions = [
            ("credit_account", _("Can credit a customer account")),
        ]
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="shop_account_balance_not_negative")]

    def __str__(self):
        return f"{self.customer_id} ({self.balance} {self.currency})"


class AccountLedgerEntry(models.Model):
    """shop_account_ledger: append-only record of every debit and credit of an account.

    ``idempotency_key`` is unique in the database: a retried charge finds the
    entry it already wrote instead of charging twice.
    """

    account = models.ForeignKey(CustomerAccount, models.PROTECT, related_name="entries", verbose_name=_("account"))
    customer_id = models.CharField(_("customer ID"), max_length=64, db_index=True)
    kind = models.CharField(_("kind"), max_length=8, choices=LedgerKind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    balance_after = models.DecimalField(_("balance after"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    reason = models.TextField(_("reason"))
    order = models.ForeignKey(
        ShopOrder, models.PROTECT, null=True, blank=True, related_name="ledger_entries", verbose_name=_("order")
    )
    renewal = models.ForeignKey(
        ShopSuborderRenewal,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        verbose_name=_("renewal"),
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=128, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        db_table = "shop_account_ledger"
        ordering = ["-id"]
        verbose_name = _("account ledger entry")
        verbose_name_plural = _("account ledger entries")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="shop_ledger_amount_positive")]

    def __str__(self):
        return f"{self.kind} {self.amount} {self.currency} ({self.customer_id})"
