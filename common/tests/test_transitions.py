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


def test_through_takes_a_path_of_edges_in_one_update(django_assert_num_queries):
    order = ShopOrder.objects.create(order_no="X4", customer_id="c")
    with django_assert_num_queries(1):
        assert transition(ShopOrder, order.pk, table=TABLE, to="PROVISIONING", through=["PAID"]) is True
    order.refresh_from_db()
    assert order.status == "PROVISIONING"
    # The path is checked from its first step: a row already past it does not move.
    assert transition(ShopOrder, order.pk, table=TABLE, to="PROVISIONING", through=["PAID"], quiet=True) is False


def test_through_refuses_a_path_that_is_not_made_of_edges():
    order = ShopOrder.objects.create(order_no="X5", customer_id="c")
    with pytest.raises(ValueError, match="CANCELLED -> PROVISIONING"):
        transition(ShopOrder, order.pk, table=TABLE, to="PROVISIONING", through=["CANCELLED"])
    order.refresh_from_db()
    assert order.status == "NEW"


def test_where_adds_conditions_to_the_same_update():
    order = ShopOrder.objects.create(order_no="X6", customer_id="c", currency="CNY")
    assert transition(ShopOrder, order.pk, table=TABLE, to="PAID", where={"currency": "USD"}, quiet=True) is False
    with pytest.raises(IllegalTransition):
        transition(ShopOrder, order.pk, table=TABLE, to="PAID", where={"currency": "USD"})
    assert transition(ShopOrder, order.pk, table=TABLE, to="PAID", where={"currency": "CNY"}) is True


def test_values_the_plain_statement_does_not_cover_go_through_the_orm(django_user_model):
    from decimal import Decimal

    from django.db.models import F

    user = django_user_model.objects.create_user("t1")
    order = ShopOrder.objects.create(order_no="X7", customer_id="c", total_amount=Decimal("1.50"))
    assert transition(ShopOrder, order.pk, table=TABLE, to="PAID", total_amount=F("total_amount") * 2, created_by=user)
    order.refresh_from_db()
    assert (order.status, order.total_amount, order.created_by_id) == ("PAID", Decimal("3.00"), user.pk)


def test_written_values_are_prepared_by_their_fields():
    from decimal import Decimal

    from django.utils import timezone

    order = ShopOrder.objects.create(order_no="X8", customer_id="c")
    when = timezone.now()
    assert transition(ShopOrder, order.pk, table=TABLE, to="PAID", paid_at=when, total_amount=Decimal("9.99"))
    order.refresh_from_db()
    assert (order.paid_at, order.total_amount) == (when, Decimal("9.99"))


def test_sources_of_choices_whose_names_are_not_their_values():
    from django.db.models import TextChoices

    class Mode(TextChoices):
        SYNC = "sync", "sync"
        ASYNC = "async", "async"

    table = TransitionTable.build("mode", {Mode.SYNC: {Mode.ASYNC}})
    assert table.sources(Mode.ASYNC) == {"sync"} and table.sources("async") == {"sync"}
    assert table.allowed("sync", Mode.ASYNC) and table.allowed(Mode.SYNC, "async")
    assert table.path_sources(Mode.ASYNC, from_states=["sync"]) == {"sync"}
