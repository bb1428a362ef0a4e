import pytest

from common.transitions import IllegalTransition, TransitionTable, transition
from orders.models import ShopOrder

TABLE = TransitionTable.build("order", {"NEW": {"PAID", "CANCELLED"}, "PAID": {"PROVISIONING"}})

pytestmark = pytest.mark.django_db


def test_sources_and_states():
    assert TABLE.sources("PAID") == {"NEW"}
    assert TABLE.states() == {"NEW", "PAID", "CANCELLED", "PROVISIONING"}
    assert TABLE.allowed("NEW", "PAID") and not TABLE.allowed("PAID", "NEW")


def test_transition_moves_once_then_refuses():
    order = ShopOrder.objects.create(order_no="X1", customer_id="c")
    assert transition(ShopOrder, order.pk, table=TABLE, to="PAID") is True
    with pytest.raises(IllegalTransition) as refused:
        transition(ShopOrder, order.pk, table=TABLE, to="PAID")
    assert refused.value.current == "PAID"
    assert transition(ShopOrder, order.pk, table=TABLE, to="PAID", quiet=True) is False


def test_from_states_narrow_never_widen():
    order = ShopOrder.objects.create(order_no="X2", customer_id="c")
    with pytest.raises(IllegalTransition):
        transition(ShopOrder, order.pk, table=TABLE, to="PROVISIONING", from_states={"NEW"})
    order.refresh_from_db()
    assert order.status == "NEW"


def test_transition_writes_extra_fields_and_updated_at():
    order = ShopOrder.objects.create(order_no="X3", customer_id="c")
    before = order.updated_at
    transition(ShopOrder, order.pk, table=TABLE, to="CANCELLED", fail_detail="by test")
    order.refresh_from_db()
    assert order.fail_detail == "by test" and order.updated_at >= before


def test_missing_row_is_refused():
    with pytest.raises(IllegalTransition) as refused:
        transition(ShopOrder, 999999, table=TABLE, to="PAID")
    assert refused.value.current is None
