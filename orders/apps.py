from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders and renewals")

    def ready(self):
        # The tasker tells orders about its work only through these hooks (it never imports orders).
        from tasks.hooks import register_order_expander, register_task_finished

        from .services.lifecycle import order_expand, order_task_finished

        register_order_expander(order_expand)
        register_task_finished(order_task_finished, suborders_only=True)
