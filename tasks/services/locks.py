"""Resource locks: one unfinished task per resource, held by a unique key.

The lock is a row of ``cloud_task_resource_lock``; the unique key on
(resource_type, resource_id) makes taking it a single INSERT, so two tasks that
start at the same instant cannot both get it (no check-then-act). Two tasks on
different resources insert different keys and never wait on each other.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from common.sql import insert

from ..models import CloudTask, CloudTaskResourceLock
from .rows import lock_delete


def lock_acquire(*, task: CloudTask) -> int | None:
    """Take the lock of ``task``'s resource for it.

    Returns ``None`` when the task holds the lock (taken now, or already held by
    it: a redelivered message), or the id of the task that holds it.
    """
    for _ in range(3):
        try:
            with transaction.atomic():  # a savepoint: the caller's transaction goes on after a refusal
                insert(
                    [CloudTaskResourceLock(resource_type=task.resource_type, resource_id=task.resource_id, task=task)]
                )
            return None
        except IntegrityError:
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
