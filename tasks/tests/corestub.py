"""A minimal in-process stand-in for coreTasker, behind the same interface.

Used by the tasker's tests until (and unless) the real ``coretasker.services``
is present. It records one ``workflow_task`` per idempotency key (so
``cloud_task_subtask.workflow_task`` points at a real row), answers sync
requests at once and async ones with ACCEPTED followed, after the commit, by a
progress report and a final report through :func:`coretasker.interface.report`.

It behaves like a tiny cloud, using its own workflow_task rows as inventory:
an action on a VM, NIC or pipe that no DONE ``create_*`` request made is
refused (``not_found``). Tests can also make chosen actions fail.
"""

from __future__ import annotations

import sys
import types

from django.db import transaction

from coretasker import interface
from coretasker.models import TargetType, WorkflowStatus, WorkflowTask

#: action -> error code: requests for these actions fail (set by tests).
FAIL_ACTIONS: dict[str, str] = {}
#: keys of attempts to fail once, e.g. {"12:1"} (set by tests).
FAIL_KEYS: set[str] = set()
#: async requests are reported on at once after commit unless this is False.
AUTO_REPORT = True

_CREATES = {"vm": "create_vm", "nic": "create_nic", "pipe": "create_pipe"}


def _exists(target_obj: str) -> bool:
    kind = target_obj.split(":", 1)[0]
    create = _CREATES.get(kind)
    if create is None:
        return True
    made = WorkflowTask.objects.filter(target_obj=target_obj, task_type=create, status=WorkflowStatus.DONE).exists()
    gone = WorkflowTask.objects.filter(
        target_obj=target_obj, task_type__startswith="delete_", status=WorkflowStatus.DONE
    ).exists()
    return made and not gone


def _refusal(request: interface.CoreRequest) -> tuple[str, str] | None:
    if request.idempotency_key in FAIL_KEYS:
        return "injected", f"injected failure of {request.action} ({request.idempotency_key})"
    if request.action in FAIL_ACTIONS:
        return FAIL_ACTIONS[request.action], f"{request.action} refused by the test"
    if request.action.startswith("create_") and request.action != "create_nic":
        return None
    target = request.target_obj
    if request.action == "create_nic":
        target = f"vm:{request.params.get('vm_id')}"
    if not _exists(target):
        return "not_found", f"{target} does not exist"
    return None


def _answer(row: WorkflowTask) -> interface.CoreAnswer:
    status = {
        WorkflowStatus.DONE: interface.AnswerStatus.DONE,
        WorkflowStatus.ERROR: interface.AnswerStatus.ERROR,
    }.get(row.status, interface.AnswerStatus.ACCEPTED)
    return interface.CoreAnswer(
        workflow_task_id=row.pk,
        status=status,
        result=row.result,
        error_code="refused" if row.status == WorkflowStatus.ERROR else "",
        error_msg=row.error_msg,
    )


def workflow_submit(request: interface.CoreRequest) -> interface.CoreAnswer:
    with transaction.atomic():
        row, created = WorkflowTask.objects.get_or_create(
            idempotency_key=request.idempotency_key,
            defaults={
                "target_type": request.target_type or TargetType.ACTION,
                "task_type": request.action,
                "target_obj": request.target_obj,
                "site_id": request.site_id,
                "customer_id": request.customer_id,
                "params": request.params,
                "pri": request.pri,
                "status": WorkflowStatus.DOING,
            },
        )
        if not created:
            return _answer(row)
        refusal = _refusal(request)
        if request.mode == "sync":
            _finish(row, refusal)
            return _answer(row)
    if AUTO_REPORT:
        transaction.on_commit(lambda: complete(request.idempotency_key))
    return interface.CoreAnswer(workflow_task_id=row.pk, status=interface.AnswerStatus.ACCEPTED)


def _finish(row: WorkflowTask, refusal) -> None:
    if refusal is None:
        row.status, row.result, row.progress = WorkflowStatus.DONE, {"ok": True, "action": row.task_type}, 100
    else:
        row.status, row.error_msg = WorkflowStatus.ERROR, refusal[1]
    row.save(update_fields=["status", "result", "progress", "error_msg", "updated_at"])


def complete(key: str) -> None:
    """Finish the async request ``key``: report progress, then done or error (after commit)."""
    row = WorkflowTask.objects.get(idempotency_key=key)
    request = interface.CoreRequest(
        action=row.task_type,
        target_type=row.target_type,
        target_obj=row.target_obj,
        site_id=row.site_id,
        customer_id=row.customer_id,
        idempotency_key=key,
        params=row.params,
        mode="async",
    )
    interface.report(interface.CoreReport(workflow_task_id=row.pk, idempotency_key=key, kind="progress", progress=50))
    _finish(row, _refusal(request))
    if row.status == WorkflowStatus.DONE:
        report = interface.CoreReport(workflow_task_id=row.pk, idempotency_key=key, kind="done", result=row.result)
    else:
        report = interface.CoreReport(
            workflow_task_id=row.pk, idempotency_key=key, kind="error", error_code="refused", error_msg=row.error_msg
        )
    interface.report(report)


def workflow_lookup(key: str) -> interface.CoreAnswer | None:
    row = WorkflowTask.objects.filter(idempotency_key=key).first()
    return None if row is None else _answer(row)


def real_coretasker_present() -> bool:
    """True when the real coreTasker implements the interface (``coretasker.services.workflow_submit``)."""
    try:
        from coretasker import services
    except ImportError:
        return False
    return hasattr(services, "workflow_submit") and not getattr(services, "IS_TASKER_STAND_IN", False)


def install() -> types.ModuleType:
    """Make ``coretasker.services`` this stand-in (for a worker process started by the tests)."""
    import coretasker

    module = types.ModuleType("coretasker.services")
    module.IS_TASKER_STAND_IN = True
    module.workflow_submit = workflow_submit
    module.workflow_lookup = workflow_lookup
    sys.modules["coretasker.services"] = module
    coretasker.services = module
    return module
