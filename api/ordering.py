from rest_framework.filters import OrderingFilter


class StableOrderingFilter(OrderingFilter):
    """``?ordering=`` over the view's ``ordering_fields``, always ending on the primary key,
    so rows with equal sort keys never swap places between pages."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or ["-id"])
        if not any(key.lstrip("-") in ("id", "pk") for key in ordering):
            ordering.append("-id")
        return ordering
