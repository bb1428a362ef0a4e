"""Billing admin: item types with their price history, prices, usage, charged periods, charge lines."""

from urllib.parse import parse_qsl

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.admin import ReadOnlyAdminMixin, ReadOnlyInline
from common.errors import DomainError

from .export import stream_charge_lines_csv
from .models import BillingItemType, BillResourcesPrice, ChargeLine, ChargePeriod, UsageSample
from .money import round_money
from .prices import price_change, price_create, price_is_used, price_overlapping


def is_current(price, now=None) -> bool:
    now = now or timezone.now()
    return price.valid_from <= now and (price.valid_to is None or price.valid_to > now)


class PriceHistoryInline(ReadOnlyInline):
    """Every price of the item, newest first per site and cycle; the one valid now is marked."""

    model = BillResourcesPrice
    fields = ["site_id", "billing_cycle", "currency", "unit_price", "valid_from", "valid_to", "current"]
    readonly_fields = fields
    ordering = ["site_id", "billing_cycle", "-valid_from"]
    verbose_name_plural = _("price history")

    @admin.display(boolean=True, description=_("current"))
    def current(self, obj):
        return is_current(obj)


@admin.register(BillingItemType)
class BillingItemTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "unit", "charge_kind", "is_active"]
    list_filter = ["charge_kind", "is_active"]
    search_fields = ["code", "name"]
    inlines = [PriceHistoryInline]


class ValidityFilter(admin.SimpleListFilter):
    title = _("validity")
    parameter_name = "validity"

    def lookups(self, request, model_admin):
        return [("current", _("valid now")), ("scheduled", _("starts later")), ("ended", _("ended"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "current":
            return queryset.filter(valid_from__lte=now).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=now))
        if self.value() == "scheduled":
            return queryset.filter(valid_from__gt=now)
        if self.value() == "ended":
            return queryset.filter(valid_to__lte=now)
        return queryset


class PriceForm(forms.ModelForm):
    class Meta:
        model = BillResourcesPrice
        fields = ["item_type", "site_id", "billing_cycle", "currency", "unit_price", "valid_from", "valid_to"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        clash = price_overlapping(
            item_type_id=data["item_type"].pk,
            site_id=data["site_id"],
            billing_cycle=data["billing_cycle"],
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            exclude_id=self.instance.pk,
        ).first()
        if clash is not None:
            raise forms.ValidationError(
                gettext("Overlaps the price valid from %(start)s; use “change price from a date” instead.")
                % {"start": clash.valid_from.isoformat()}
            )
        return data


class PriceChangeForm(forms.Form):
    unit_price = forms.DecimalField(label=_("new unit price"), max_digits=20, decimal_places=8, min_value=0)
    effective_from = forms.DateTimeField(label=_("effective from"))


@admin.register(BillResourcesPrice)
class BillResourcesPriceAdmin(admin.ModelAdmin):
    form = PriceForm
    list_display = [
        "item_type",
        "site_id",
        "billing_cycle",
        "unit_price",
        "currency",
        "valid_from",
        "valid_to",
        "current",
    ]
    list_filter = [ValidityFilter, "billing_cycle", "currency", "site_id", "item_type"]
    search_fields = ["item_type__code", "item_type__name", "site_id"]
    date_hierarchy = "valid_from"
    autocomplete_fields = ["item_type"]
    list_select_related = ["item_type"]
    ordering = ["item_type__code", "site_id", "billing_cycle", "-valid_from"]

    @admin.display(boolean=True, description=_("current"))
    def current(self, obj):
        return is_current(obj)

    def has_change_permission(self, request, obj=None):
        # A price a charge used is never edited in place: change it from a date instead.
        if obj is not None and obj.pk and price_is_used(price_id=obj.pk):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.pk and price_is_used(price_id=obj.pk):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:  # only unused prices reach here; the form and the database refuse overlaps
            super().save_model(request, obj, form, change)
            return
        created = price_create(
            item_code=obj.item_type.code,
            site_id=obj.site_id,
            billing_cycle=obj.billing_cycle,
            unit_price=obj.unit_price,
            currency=obj.currency,
            valid_from=obj.valid_from,
            valid_to=obj.valid_to,
            user=request.user,
        )
        obj.pk, obj.created_by, obj.created_at = created.pk, created.created_by, created.created_at

    def get_urls(self):
        return [
            path(
                "<int:pk>/change-from-date/",
                self.admin_site.admin_view(self.change_from_date_view),
                name="billing_billresourcesprice_change_from_date",
            )
        ] + super().get_urls()

    def change_from_date_view(self, request, pk):
        """A new price from a date; the current row ends there (``billing.prices.price_change``)."""
        price = get_object_or_404(BillResourcesPrice.objects.select_related("item_type"), pk=pk)
        if not request.user.has_perm("billing.add_billresourcesprice"):
            raise PermissionDenied
        form = PriceChangeForm(request.POST or None, initial={"unit_price": price.unit_price})
        if request.method == "POST" and form.is_valid():
            try:
                new = price_change(
                    item_code=price.item_type.code,
                    site_id=price.site_id,
                    billing_cycle=price.billing_cycle,
                    unit_price=form.cleaned_data["unit_price"],
                    effective_from=form.cleaned_data["effective_from"],
                    currency=price.currency,
                    user=request.user,
                )
            except DomainError as refusal:
                form.add_error(None, refusal.message)
            else:
                self.log_addition(request, new, gettext("price changed from a date"))
                self.message_user(request, gettext("New price saved: %(price)s") % {"price": new}, messages.SUCCESS)
                return redirect(reverse("admin:billing_billresourcesprice_changelist"))
        return TemplateResponse(
            request,
            "admin/billing/billresourcesprice/change_from_date.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Change price from a date"),
                "opts": self.model._meta,
                "price": price,
                "form": form,
            },
        )


@admin.register(UsageSample)
class UsageSampleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["sampled_at", "customer_id", "site_id", "resource_type", "resource_id", "item_type", "value"]
    list_filter = ["item_type", "site_id", "resource_type"]
    search_fields = ["=sample_id", "=resource_id", "=customer_id"]
    date_hierarchy = "sampled_at"
    list_select_related = ["item_type"]
    show_full_result_count = False


@admin.register(ChargePeriod)
class ChargePeriodAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "period_start",
        "period_end",
        "billing_cycle",
        "currency",
        "line_count",
        "adjustment_count",
        "closed_at",
    ]
    list_filter = ["billing_cycle", "currency"]
    date_hierarchy = "period_start"


class InputFilter(admin.SimpleListFilter):
    """A text box filter (exact value), for columns with too many values to list."""

    template = "admin/billing/input_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]

    def choices(self, changelist):
        query = changelist.get_query_string(remove=[self.parameter_name, "p"])
        yield {"query_parts": parse_qsl(query.lstrip("?")), "value": self.value() or ""}

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.parameter_name: self.value().strip()})
        return queryset


class CustomerFilter(InputFilter):
    title = _("customer ID")
    parameter_name = "customer_id"


class ResourceFilter(InputFilter):
    title = _("resource ID")
    parameter_name = "resource_id"


@admin.register(ChargeLine)
class ChargeLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "period_start",
        "customer_id",
        "site_id",
        "resource_id",
        "item_type",
        "kind",
        "usage_period_start",
        "quantity",
        "unit_price",
        "amount",
        "currency",
        "price",
    ]
    list_filter = [CustomerFilter, ResourceFilter, "billing_cycle", "kind", "currency", "item_type", "site_id"]
    date_hierarchy = "period_start"
    list_select_related = ["item_type", "price", "price__item_type"]
    show_full_result_count = False
    actions = ["export_csv"]

    def has_export_chargeline_permission(self, request):
        return request.user.has_perm("billing.export_chargeline")

    @admin.action(description=_("Export selected charge lines as CSV"), permissions=["export_chargeline"])
    def export_csv(self, request, queryset):
        return stream_charge_lines_csv(queryset)

    def get_urls(self):
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="billing_chargeline_export")
        ] + super().get_urls()

    def export_view(self, request):
        """The filtered changelist as CSV (the same filters as the page it is linked from)."""
        if not self.has_export_chargeline_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return stream_charge_lines_csv(changelist.get_queryset(request))

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if hasattr(response, "context_data") else None
        if changelist is not None:
            totals = (
                changelist.queryset.order_by("currency")
                .values("currency")
                .annotate(lines=Count("id"), amount=Sum("amount"), exact=Sum("amount_exact"))
            )
            # Line amounts are rounded already: round_money only sets the currency's digits for display.
            response.context_data["totals"] = [
                {
                    **total,
                    "amount": round_money(total["amount"], total["currency"]),
                    "exact": total["exact"].normalize(),
                }
                for total in totals
            ]
            response.context_data["can_export"] = self.has_export_chargeline_permission(request)
            response.context_data["export_query"] = request.GET.urlencode()
        return response
