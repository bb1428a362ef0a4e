"""The tasker's services: the pipeline steps (the notes' names) and what other apps call.

Other apps use: :func:`operation_place`, :func:`task_retry`, :func:`subtask_retry`,
:func:`subtask_retry_preview`, :func:`task_cancel`.
"""

from .operations import operation_place, operation_validate
from .retry import AlreadyRetrying, CoreStillWorking, subtask_retry, subtask_retry_preview, task_cancel, task_retry
from .taskconsumer import (
    deal_with_result,
    do_prepare_subtask,
    do_subtask,
    finish_subtask,
    process_action,
    process_prepare_subtask,
)
from .taskdone import do_async_subtask, task_advance, task_finish, taskdone_consume
from .taskercenter import (
    OrderExpanderMissing,
    add_subtask,
    get_product_subtasks,
    pre_produce_subtasks,
    process_operation_task,
    process_order_task,
    process_task_func,
    save_task,
    split_task,
)

__all__ = [
    "AlreadyRetrying",
    "CoreStillWorking",
    "OrderExpanderMissing",
    "add_subtask",
    "deal_with_result",
    "do_async_subtask",
    "do_prepare_subtask",
    "do_subtask",
    "finish_subtask",
    "get_product_subtasks",
    "operation_place",
    "operation_validate",
    "pre_produce_subtasks",
    "process_action",
    "process_operation_task",
    "process_order_task",
    "process_prepare_subtask",
    "process_task_func",
    "save_task",
    "split_task",
    "subtask_retry",
    "subtask_retry_preview",
    "task_advance",
    "task_cancel",
    "task_finish",
    "task_retry",
    "taskdone_consume",
]
