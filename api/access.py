"""Which customer a request acts for, and the rights of staff/service clients.

The rule, in one place:

- *Scope* (which rows): a customer client sees only rows of its customer; any
  other customer's row answers 404, exactly as a row that does not exist. A
  staff/service client sees every customer.
- *Rights* (what it may do): a customer client may read its own rows and the
  public catalogue, place operations and orders for its own customer and pay its
  own orders; anything else (retry, cancel, mark renewal valid, report usage,
  coreTasker internals) needs the same Django permission a staff client needs.
  A staff/service client's rights are its Django permissions (view, add, and the
  custom ones: ``tasks.retry_task``, ``orders.mark_renewal_valid``, ...).
"""

from __future__ import annotations

from .models import ApiClient


def client_customer(user) -> str | None:
    """The customer ``user`` is bound to, or ``None`` for a staff/service client."""
    if user is None or not user.is_authenticated:
        return None
    cached = getattr(user, "_api_customer_id", ...)
    if cached is not ...:
        return cached
    try:
        customer_id = user.api_client.customer_id or None
    except ApiClient.DoesNotExist:
        customer_id = None
    user._api_customer_id = customer_id
    return customer_id
