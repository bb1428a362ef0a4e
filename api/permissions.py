"""One permission class for the whole API; the rule lives in :mod:`api.access`."""

from rest_framework.permissions import BasePermission

from .access import client_customer


class ApiPermission(BasePermission):
    """Authenticated, then: customer clients pass for the view's customer actions,
    everyone else needs the Django permissions the view names for the action."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        action = getattr(view, "action", None)
        if action is None:
            return True  # a method the view does not take: it answers 405
        if action == "metadata":
            if request.method == "OPTIONS":
                return True
            # DRF's metadata asks again for each method it describes, with a cloned request.
            action = {"POST": "create", "PUT": "update", "PATCH": "partial_update"}.get(request.method, "")
        if client_customer(user) is not None and action in view.customer_actions:
            return True
        return user.has_perms(view.required_permissions(action))
