"""coreTasker's Celery entry points (queue ``queue_coretasker`` by the ``coretasker.*`` route).

Thin: they take ids and call one service each. Messages carry the workflow's
priority (see :func:`coretasker.services.execution.message_priority`).
"""

from celery import shared_task

from common.transient import retry_transient_errors

from . import services


@shared_task(name="coretasker.run_workflow", bind=True)
@retry_transient_errors
def run_workflow(self, workflow_task_id: int) -> None:
    services.workflow_start(workflow_task_id=workflow_task_id)


@shared_task(name="coretasker.run_subtask", bind=True)
@retry_transient_errors
def run_subtask(self, subtask_id: int) -> None:
    services.subtask_run(subtask_id=subtask_id)
