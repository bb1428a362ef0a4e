"""Admin of orders, accounts and renewals: thin callers of ``orders.services``."""

from . import accounts, orders, renewals  # noqa: F401  (registration)
