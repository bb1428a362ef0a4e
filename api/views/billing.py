"""Usage batches (through billing's metering service) and charge lines."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.response import Response

from billing.models import BillingItemType, ChargeLine
from billing.usage import usage_record_batch
from common.errors import Forbidden

from .. import filters
from ..serializers.charges import ChargeLineSerializer
from ..serializers.usage import UsageBatchResultSerializer, UsageBatchSerializer
from .base import ApiViewSet, ReadOnlyApiViewSet


class UsageViewSet(ApiViewSet):
    """Metering senders (service clients with ``billing.add_usagesample``) report usage in batches."""

    queryset = BillingItemType.objects.none()  # no rows are listed here
    serializer_class = UsageBatchSerializer
    customer_actions = frozenset()
    action_permissions = {"create": ["billing.add_usagesample"]}
    pagination_class = None
    filter_backends = []

    @extend_schema(
        summary="Report a batch of usage samples",
        description="Good rows are stored, bad rows are listed in errors with their index; a resent sample_id "
        "is a duplicate and changes nothing, so a whole batch may be sent again after fixing its bad rows.",
        request=UsageBatchSerializer,
        responses={200: UsageBatchResultSerializer},
    )
    def create(self, request):
        samples = self.validated(UsageBatchSerializer)["samples"]
        own = self.customer_id
        if own is not None:
            for index, row in enumerate(samples):
                if row.get("customer_id") not in (None, "", own):
                    raise Forbidden(
                        _("This client acts for customer %(own)s only.") % {"own": own},
                        code="customer_mismatch",
                        field=f"samples[{index}].customer_id",
                    )
        result = usage_record_batch(samples=samples)
        return Response(UsageBatchResultSerializer(result.as_dict()).data)


@extend_schema_view(
    list=extend_schema(summary="List charge lines"), retrieve=extend_schema(summary="Get one charge line")
)
class ChargeLineViewSet(ReadOnlyApiViewSet):
    queryset = ChargeLine.objects.select_related("item_type")
    serializer_class = ChargeLineSerializer
    filterset_class = filters.ChargeLineFilter
    ordering = ["-period_start", "-id"]
    ordering_fields = ["id", "period_start", "amount", "created_at"]
