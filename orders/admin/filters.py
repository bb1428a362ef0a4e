"""A text-box list filter for columns with too many values for a list of links (customer, operator)."""

from django.contrib import admin


class InputFilter(admin.SimpleListFilter):
    """Filters ``field`` by the exact value typed in a small form in the filter sidebar."""

    template = "admin/orders/input_filter.html"
    field = ""

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if value:
            return queryset.filter(**{self.field: value})
        return queryset

    def choices(self, changelist):
        others = [
            (name, value)
            for name, values in changelist.get_filters_params().items()
            if name != self.parameter_name
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "others": others,
        }
