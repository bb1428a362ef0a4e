"""The database refuses overlapping validity for one item, site and billing cycle.

MariaDB has no exclusion constraints, so the rule is a pair of triggers (before
insert, before update) on both SQLite and MySQL/MariaDB: a row whose
[valid_from, valid_to) meets another row's for the same item, site and cycle is
refused (SQLite: RAISE(ABORT), an IntegrityError; MariaDB: SIGNAL SQLSTATE
'23000', errno 4025 ER_CONSTRAINT_FAILED, an IntegrityError). The unique
(item, site, cycle, valid_from) constraint stays as the cheap first line.

A trigger's read does not see rows other transactions have not committed yet,
so ``billing.prices`` also locks the item type row: two concurrent creates are
serialised there and the second one sees the first.
"""

from django.db import migrations

TABLE = "bc_bill_resources_price"
MESSAGE = "bc_price_no_overlap: validity overlaps another price of this item, site and billing cycle"

OVERLAP = f"""
    SELECT 1 FROM {TABLE} p
    WHERE p.item_type_id = NEW.item_type_id AND p.site_id = NEW.site_id AND p.billing_cycle = NEW.billing_cycle
      AND p.id <> COALESCE(NEW.id, -1)
      AND (NEW.valid_to IS NULL OR p.valid_from < NEW.valid_to)
      AND (p.valid_to IS NULL OR p.valid_to > NEW.valid_from)
"""


def sqlite_trigger(event):
    return f"""
CREATE TRIGGER bc_price_no_overlap_{event.lower()} BEFORE {event} ON {TABLE}
FOR EACH ROW WHEN EXISTS ({OVERLAP})
BEGIN
    SELECT RAISE(ABORT, '{MESSAGE}');
END
"""


def mysql_trigger(event):
    return f"""
CREATE TRIGGER bc_price_no_overlap_{event.lower()} BEFORE {event} ON {TABLE}
FOR EACH ROW
BEGIN
    IF EXISTS ({OVERLAP}) THEN
        SIGNAL SQLSTATE '23000' SET MESSAGE_TEXT = '{MESSAGE}', MYSQL_ERRNO = 4025;
    END IF;
END
"""


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    build = {"sqlite": sqlite_trigger, "mysql": mysql_trigger}.get(vendor)
    if build is None:
        return  # other databases: the service's check under the item row lock still holds
    for event in ("INSERT", "UPDATE"):
        schema_editor.execute(build(event))


def drop(apps, schema_editor):
    if schema_editor.connection.vendor not in ("sqlite", "mysql"):
        return
    for event in ("insert", "update"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS bc_price_no_overlap_{event}")


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_item_type_starting_set")]

    operations = [migrations.RunPython(create, drop, atomic=False)]
