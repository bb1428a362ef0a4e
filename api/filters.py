"""django-filter filtersets: one per list endpoint, every filter named for clients."""

import django_filters as df
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field

from billing.models import BillingCycle, BillingItemType, BillResourcesPrice, ChargeKind, ChargeLine, ChargeLineKind
from coretasker.models import CpuTypeTpl, TargetType, WorkflowStatus, WorkflowTask
from orders.models import (
    AccountLedgerEntry,
    LedgerKind,
    OrderStatus,
    RenewalFailReason,
    RenewalLogAction,
    RenewalLogOutcome,
    RenewalStatus,
    ShopOrder,
    ShopRenewalLog,
    ShopSuborderRenewal,
)
from tasks.models import (
    CloudTask,
    CloudTaskErrorLog,
    CloudTaskSubtask,
    OperationStatus,
    ResUserOperation,
    SubtaskStatus,
    TaskStatus,
)

#: Ids beyond a signed 64-bit integer cannot exist; refusing them keeps every database happy.
MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(df.Filter):
    field_class = forms.IntegerField


def id_filter(field_name: str, label) -> IdFilter:
    return IdFilter(field_name=field_name, label=label, min_value=1, max_value=MAX_ID)


class CreatedRangeMixin(df.FilterSet):
    created_after = df.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label=_("created at or after"))
    created_before = df.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt", label=_("created before"))


class OperationFilter(CreatedRangeMixin):
    customer = df.CharFilter(field_name="customer_id", label=_("customer ID"))
    task_status = df.MultipleChoiceFilter(choices=OperationStatus.choices, label=_("task status"))
    type = df.CharFilter(field_name="task_type", label=_("operation type"))
    resource_type = df.CharFilter(label=_("resource type"))
    resource_id = df.CharFilter(label=_("resource ID"))
    site = df.CharFilter(field_name="site_id", label=_("site ID"))
    order = id_filter("order_id", _("order ID"))

    class Meta:
        model = ResUserOperation
        fields = []


class TaskFilter(CreatedRangeMixin):
    operation = id_filter("operation_id", _("operation ID"))
    order = id_filter("order_id", _("order ID"))
    suborder = id_filter("suborder_id", _("sub-order ID"))
    customer = df.CharFilter(field_name="customer_id", label=_("customer ID"))
    status = df.MultipleChoiceFilter(choices=TaskStatus.choices, label=_("status"))
    type = df.CharFilter(field_name="task_type", label=_("task type"))
    resource_type = df.CharFilter(label=_("resource type"))
    resource_id = df.CharFilter(label=_("resource ID"))
    site = df.CharFilter(field_name="site_id", label=_("site ID"))

    class Meta:
        model = CloudTask
        fields = []


class SubtaskFilter(CreatedRangeMixin):
    task = id_filter("task_id", _("task ID"))
    customer = df.CharFilter(field_name="task__customer_id", label=_("customer ID"))
    status = df.MultipleChoiceFilter(choices=SubtaskStatus.choices, label=_("status"))
    action = df.CharFilter(label=_("action"))

    class Meta:
        model = CloudTaskSubtask
        fields = []


class ErrorLogFilter(CreatedRangeMixin):
    task = id_filter("task_id", _("task ID"))
    subtask = id_filter("subtask_id", _("subtask ID"))
    customer = df.CharFilter(field_name="task__customer_id", label=_("customer ID"))
    error_class = df.CharFilter(label=_("error class"))

    class Meta:
        model = CloudTaskErrorLog
        fields = []


class OrderFilter(CreatedRangeMixin):
    customer = df.CharFilter(field_name="customer_id", label=_("customer ID"))
    status = df.MultipleChoiceFilter(choices=OrderStatus.choices, label=_("status"))
    order_no = df.CharFilter(label=_("order number"))

    class Meta:
        model = ShopOrder
        fields = []


class RenewalFilter(CreatedRangeMixin):
    suborder = id_filter("suborder_id", _("sub-order ID"))
    order = id_filter("suborder__order_id", _("order ID"))
    customer = df.CharFilter(field_name="suborder__customer_id", label=_("customer ID"))
    status = df.MultipleChoiceFilter(choices=RenewalStatus.choices, label=_("status"))
    is_valid = df.BooleanFilter(label=_("is valid"))
    period_after = df.IsoDateTimeFilter(
        field_name="period_start", lookup_expr="gte", label=_("period starts at or after")
    )
    period_before = df.IsoDateTimeFilter(field_name="period_start", lookup_expr="lt", label=_("period starts before"))

    class Meta:
        model = ShopSuborderRenewal
        fields = []


class RenewalLogFilter(CreatedRangeMixin):
    renewal = id_filter("renewal_id", _("renewal ID"))
    suborder = id_filter("suborder_id", _("sub-order ID"))
    customer = df.CharFilter(field_name="customer_id", label=_("customer ID"))
    site = df.CharFilter(field_name="site_id", label=_("site ID"))
    action = df.MultipleChoiceFilter(choices=RenewalLogAction.choices, label=_("action"))
    outcome = df.MultipleChoiceFilter(choices=RenewalLogOutcome.choices, label=_("outcome"))
    fail_reason = df.MultipleChoiceFilter(choices=RenewalFailReason.choices, label=_("failure reason"))

    class Meta:
        model = ShopRenewalLog
        fields = []


class BillingItemTypeFilter(df.FilterSet):
    code = df.CharFilter(label=_("code"))
    charge_kind = df.ChoiceFilter(choices=ChargeKind.choices, label=_("charge kind"))
    is_active = df.BooleanFilter(label=_("active"))

    class Meta:
        model = BillingItemType
        fields = []


class PriceFilter(df.FilterSet):
    item_type = id_filter("item_type_id", _("billing item type ID"))
    item_code = df.CharFilter(field_name="item_type__code", label=_("billing item code"))
    site = df.CharFilter(field_name="site_id", label=_("site ID"))
    billing_cycle = df.ChoiceFilter(choices=BillingCycle.choices, label=_("billing cycle"))
    currency = df.CharFilter(label=_("currency"))
    valid_at = df.IsoDateTimeFilter(method="filter_valid_at", label=_("valid at this time"))

    class Meta:
        model = BillResourcesPrice
        fields = []

    def filter_valid_at(self, queryset, name, value):
        return queryset.filter(valid_from__lte=value).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=value))


class WorkflowTaskFilter(CreatedRangeMixin):
    status = df.MultipleChoiceFilter(choices=WorkflowStatus.choices, label=_("status"))
    target_type = df.MultipleChoiceFilter(choices=TargetType.choices, label=_("target type"))
    task_type = df.CharFilter(label=_("task type"))
    target_obj = df.CharFilter(label=_("target object"))
    customer = df.CharFilter(field_name="customer_id", label=_("customer ID"))
    site = df.CharFilter(field_name="site_id", label=_("site ID"))

    class Meta:
        model = WorkflowTask
        fields = []


class CpuTypeFilter(df.FilterSet):
    code = df.CharFilter(label=_("type code"))

    class Meta:
        model = CpuTypeTpl
        fields = []


class ChargeLineFilter(df.FilterSet):
    customer = df.CharFilter(field_name="customer_id", label=_("customer ID"))
    site = df.CharFilter(field_name="site_id", label=_("site ID"))
    resource_type = df.CharFilter(label=_("resource type"))
    resource_id = df.CharFilter(label=_("resource ID"))
    item = df.CharFilter(field_name="item_type__code", label=_("billing item code"))
    billing_cycle = df.ChoiceFilter(choices=BillingCycle.choices, label=_("billing cycle"))
    kind = df.ChoiceFilter(choices=ChargeLineKind.choices, label=_("kind"))
    period_after = df.IsoDateTimeFilter(
        field_name="period_start", lookup_expr="gte", label=_("period starts at or after")
    )
    period_before = df.IsoDateTimeFilter(field_name="period_start", lookup_expr="lt", label=_("period starts before"))

    class Meta:
        model = ChargeLine
        fields = []


class LedgerFilter(CreatedRangeMixin):
    kind = df.ChoiceFilter(choices=LedgerKind.choices, label=_("kind"))
    order = id_filter("order_id", _("order ID"))
    renewal = id_filter("renewal_id", _("renewal ID"))

    class Meta:
        model = AccountLedgerEntry
        fields = []
