"""``/api/v1/``: one router for every endpoint; unknown paths answer the API's 404 body."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from .views import accounts, billing, catalogue, orders, tasks
from .views.misc import not_found

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("operations", tasks.OperationViewSet, basename="operation")
router.register("tasks", tasks.TaskViewSet, basename="task")
router.register("subtasks", tasks.SubtaskViewSet, basename="subtask")
router.register("task-error-logs", tasks.TaskErrorLogViewSet, basename="task-error-log")
router.register("orders", orders.OrderViewSet, basename="order")
router.register("renewals", orders.RenewalViewSet, basename="renewal")
router.register("renewal-logs", orders.RenewalLogViewSet, basename="renewal-log")
router.register("billing-item-types", catalogue.BillingItemTypeViewSet, basename="billing-item-type")
router.register("prices", catalogue.PriceViewSet, basename="price")
router.register("usage", billing.UsageViewSet, basename="usage")
router.register("charges", billing.ChargeLineViewSet, basename="charge")
router.register("accounts", accounts.AccountViewSet, basename="account")
router.register(
    rf"accounts/(?P<customer_id>{accounts.CUSTOMER_ID_PATTERN})/ledger", accounts.LedgerViewSet, basename="ledger"
)
router.register("workflow-tasks", catalogue.WorkflowTaskViewSet, basename="workflow-task")
router.register("cpu-types", catalogue.CpuTypeViewSet, basename="cpu-type")

app_name = "api"
urlpatterns = [*router.urls, re_path(r"", not_found)]  # "" matches every rest, newlines included
