"""Restarting a failed workflow_task from its failed subtask."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.transitions import transition

from ..drivers.base import DriverRefusal, get_driver
from ..models import WorkflowMode, WorkflowStatus, WorkflowSubtask, WorkflowTask
from ..transitions import WORKFLOW_SUBTASK, WORKFLOW_TASK
from .execution import send_run_workflow

S = WorkflowStatus


def workflow_restart(*, workflow_task_id: int, user, reason: str) -> WorkflowTask:
    """Re-run a failed (ERROR) workflow_task from its failed subtask, keeping the DONE ones.

    Guarantees: needs ``coretasker.restart_workflowtask`` (Forbidden) and a reason
    (InvalidInput); a workflow that is not ERROR is refused (Conflict) and left as
    it is. The failed subtasks go back to NEW, ``restart`` grows by one, the
    reason is added to ``task_info``, and the run is queued on coreTasker's queue
    after commit; it reports to the tasker like an asynchronous request. When
    nothing of the plan had run, the driver checks the request again first and a
    refusal leaves the row unchanged (Conflict naming the refusal).
    """
    if not user.has_perm("coretasker.restart_workflowtask"):
        raise Forbidden(_("You may not restart workflow tasks."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the workflow task is restarted."), field="reason")
    with transaction.atomic():
        wf = WorkflowTask.objects.select_for_update().filter(pk=workflow_task_id).first()
        if wf is None:
            raise NotFound(_("Workflow task %(id)s does not exist.") % {"id": workflow_task_id})
        if wf.status != S.ERROR:
            raise Conflict(
                _("Only a failed workflow task can be restarted; #%(id)s is %(status)s.")
                % {"id": wf.pk, "status": wf.status}
            )
        subtasks = WorkflowSubtask.objects.filter(parent=wf)
        if not subtasks.filter(status=S.DONE).exists():
            try:
                get_driver().validate(wf.task_type, wf.params)
            except DriverRefusal as refusal:
                raise Conflict(
                    _("The cloud still refuses it: %(code)s: %(message)s")
                    % {"code": refusal.code, "message": refusal.message}
                ) from None
        for failed in subtasks.filter(status=S.ERROR):
            transition(
                WorkflowSubtask,
                failed.pk,
                table=WORKFLOW_SUBTASK,
                to=S.NEW,
                from_states=[S.ERROR],
                result=None,
                celery_task_id="",
            )
        # Subtasks queued but never run (a sibling failed first) may be queued again.
        subtasks.filter(status=S.NEW).update(celery_task_id="")
        celery_task_id = str(uuid.uuid4())
        note = _("%(when)s restart #%(n)s by %(user)s: %(reason)s (was: %(error)s)") % {
            "when": timezone.now().isoformat(timespec="seconds"),
            "n": wf.restart + 1,
            "user": user.get_username(),
            "reason": reason,
            "error": wf.error_msg,
        }
        transition(
            WorkflowTask,
            wf.pk,
            table=WORKFLOW_TASK,
            to=S.DOING,
            from_states=[S.ERROR],
            restart=F("restart") + 1,
            error_msg="",
            result=None,
            mode=WorkflowMode.ASYNC,
            queue=settings.QUEUE_CORETASKER,
            celery_task_id=celery_task_id,
            task_info=f"{wf.task_info}\n{note}".strip(),
        )
        send_run_workflow(wf.pk, celery_task_id, wf.pri)
    wf.refresh_from_db()
    return wf
