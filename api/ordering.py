from django.utils.translation import gettext_lazy as _
from rest_framework.filters import OrderingFilter


class StableOrderingFilter(OrderingFilter):
    """``?ordering=`` over the view's ``ordering_fields``, always ending on the primary key,
    so rows with equal sort keys never swap places between pages."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or ["-id"])
        if not any(key.lstrip("-") in ("id", "pk") for key in ordering):
            ordering.append("-id")
        return ordering

    def get_schema_operation_parameters(self, view):
        fields = list(getattr(view, "ordering_fields", None) or [])
        if not fields:
            return []
        alternatives = "|".join(fields)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": str(
                    _("Sort key; a leading '-' sorts descending; several keys separated by commas. Ties end on id.")
                ),
                "schema": {"type": "string", "pattern": f"^-?({alternatives})(,-?({alternatives}))*$"},
                "example": f"-{fields[0]}",
            }
        ]
