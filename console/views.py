"""Console pages inside the admin (wrapped by ``admin.site.admin_view`` in console/urls.py)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from common.errors import NotFound
from tasks.models import CloudTask, CloudTaskSubtask

from .timeline import timeline_build


def task_timeline(request, task_id: int):
    """A task's subtasks on a time axis, their coreTasker work, error logs and locks."""
    if not request.user.has_perm("tasks.view_cloudtask"):
        raise PermissionDenied
    try:
        timeline = timeline_build(task_id=task_id)
    except NotFound as missing:
        raise Http404(missing.message) from missing
    context = {
        **admin.site.each_context(request),
        "title": _("Timeline of task #%(id)s") % {"id": task_id},
        "opts": CloudTask._meta,
        "timeline": timeline,
        "task": timeline["task"],
        "can_view_workflow": request.user.has_perm("coretasker.view_workflowtask"),
        "can_view_subtask": request.user.has_perm("tasks.view_cloudtasksubtask"),
        "subtask_actions": subtask_actions(request),
    }
    return TemplateResponse(request, "console/task_timeline.html", context)


def subtask_actions(request) -> list[tuple[str, str]]:
    """The subtask admin's retry actions this user may run, as ``(name, description)``.

    The timeline offers them beside each failed subtask; the button posts to the
    subtask changelist, so the action's own confirmation page (reason, preview)
    and permission checks apply unchanged.
    """
    model_admin = admin.site._registry.get(CloudTaskSubtask)
    if model_admin is None:
        return []
    return [
        (name, str(description))
        for name, (_func, _name, description) in model_admin.get_actions(request).items()
        if "retry" in name
    ]
