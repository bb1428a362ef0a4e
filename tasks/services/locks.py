"""Resource locks: one unfinished task per resource, held by a unique key.

The lock is a row of ``cloud_task_resource_lock``; the unique key on
(resource_type, resource_id) makes taking it a single INSERT, so two tasks that
start at the same instant cannot both get it (no check-then-act). Two tasks on
different resources insert different keys and never wait on each other.
"""

from __future__ import annotations

from django.db import IntegrityError, connections, router, transaction

from common.sql import insert

from ..models import CloudTask, CloudTaskResourceLock
from .rows import lock_delete

#: Backends on which a refused INSERT undoes only itself and the transaction goes on
#: (InnoDB rolls back just the statement on a duplicate key, SQLite aborts just the
#: statement). Elsewhere (PostgreSQL) a failed statement aborts the whole transaction,
#: so the INSERT needs a savepoint of its own.
_STATEMENT_ROLLBACK = frozenset({"mysql", "sqlite"})


def lock_acquire(*, task: CloudTask) -> int | None:
    """Take the lock of ``task``'s resource for it.

    Returns ``None`` when the task holds the lock (taken now, or already held by
    it: a redelivered message), or the id of the task that holds it. The caller's
    transaction goes on after a refusal; inside one, on MariaDB/MySQL and SQLite,
    without a savepoint (two round trips fewer for every task that starts).
    """
    alias = router.db_for_write(CloudTaskResourceLock)
    bare = connections[alias].in_atomic_block and connections[alias].vendor in _STATEMENT_ROLLBACK
    for _ in range(3):
        try:
            row = CloudTaskResourceLock(resource_type=task.resource_type, resource_id=task.resource_id, task=task)
            if bare:
                insert([row])
            else:
                with transaction.atomic(using=alias):  # a savepoint: the caller's transaction goes on after a refusal
                    insert([row])
            return None
        except IntegrityError:
            if bare:
                # The database undid the refused INSERT alone; Django marked the whole
                # transaction for rollback all the same (it cannot know): clear that.
                transaction.set_rollback(False, using=alias)
            # A locking read sees the latest committed row, whatever snapshot this
            # transaction started with (InnoDB REPEATABLE READ).
            holder = (
                CloudTaskResourceLock.objects.select_for_update()
                .filter(resource_type=task.resource_type, resource_id=task.resource_id)
                .values_list("task_id", flat=True)
                .first()
            )
            if holder is None:
                holder = CloudTaskResourceLock.objects.filter(task_id=task.pk).values_list("task_id", flat=True).first()
            if holder is not None:
                return None if holder == task.pk else holder
            # The holder released it between our INSERT and our read: try again.
    raise RuntimeError(f"could not take or read the lock of {task.resource_type}:{task.resource_id}")


def lock_release(*, task_id: int) -> bool:
    """Release whatever lock ``task_id`` holds; ``True`` if it held one."""
    return bool(lock_delete(task_id))


def lock_holder(*, resource_type: str, resource_id: str) -> int | None:
    return (
        CloudTaskResourceLock.objects.filter(resource_type=resource_type, resource_id=resource_id)
        .values_list("task_id", flat=True)
        .first()
    )
