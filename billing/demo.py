"""Demo usage and charges, for ``seed_demo``: a few metered hours of the demo VMs, charged."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from .charges import charge_period
from .models import BillingCycle, BillResourcesPrice, ChargePeriod
from .prices import price_create
from .usage import usage_record_batch

# item code, hourly unit price (CNY)
HOURLY_PRICES = [("traffic", "0.80"), ("bandwidth", "0.063"), ("public_ip", "0.02")]


def demo_price(*, item_code: str, site_id: str, billing_cycle: str, unit_price: Decimal, valid_from) -> None:
    """A CNY price of an existing item type (by code), created once: an item that has one keeps it."""
    prices = BillResourcesPrice.objects.filter(item_type__code=item_code, site_id=site_id, billing_cycle=billing_cycle)
    if not prices.exists():
        price_create(
            item_code=item_code,
            site_id=site_id,
            billing_cycle=billing_cycle,
            unit_price=unit_price,
            currency="CNY",
            valid_from=valid_from,
        )


def load_billing_demo(*, site_id: str, customer_id: str, vm_ids: list[str]) -> None:
    """Hourly prices from a year ago, three metered hours for ``vm_ids``, the oldest two charged.

    Idempotent: samples have fixed ids per hour, prices and periods are created once.
    """
    now = timezone.now()
    hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    for code, price in HOURLY_PRICES:
        demo_price(
            item_code=code,
            site_id=site_id,
            billing_cycle=BillingCycle.HOUR,
            unit_price=Decimal(price),
            valid_from=hour - timedelta(days=365),
        )
    samples = []
    for back in (3, 2, 1):
        start = hour - timedelta(hours=back)
        for number, vm_id in enumerate(vm_ids, start=1):
            key = f"demo-{vm_id}-{start:%Y%m%d%H}"
            for minute, traffic, mbps in ((10, "1.25", 3), (30, "0.75", 5), (50, "2.5", 4)):
                at = (start + timedelta(minutes=minute)).isoformat()
                common = {"customer_id": customer_id, "site_id": site_id, "resource_type": "vm", "resource_id": vm_id}
                samples.append(
                    {
                        **common,
                        "sample_id": f"{key}-t{minute}",
                        "item": "traffic",
                        "unit": "GB",
                        "value": Decimal(traffic) * number,
                        "sampled_at": at,
                    }
                )
                samples.append(
                    {
                        **common,
                        "sample_id": f"{key}-b{minute}",
                        "item": "bandwidth",
                        "unit": "Mbps",
                        "value": mbps * number,
                        "sampled_at": at,
                    }
                )
            samples.append(
                {
                    "customer_id": customer_id,
                    "site_id": site_id,
                    "resource_type": "nic",
                    "resource_id": f"{vm_id}-eth0",
                    "sample_id": f"{key}-ip",
                    "item": "public_ip",
                    "unit": "count",
                    "value": 1,
                    "sampled_at": (start + timedelta(minutes=1)).isoformat(),
                }
            )
    usage_record_batch(samples=samples)
    for back in (3, 2):
        start = hour - timedelta(hours=back)
        if not ChargePeriod.objects.filter(billing_cycle=BillingCycle.HOUR, period_start=start).exists():
            charge_period(period_start=start, billing_cycle=BillingCycle.HOUR, currency="CNY")
