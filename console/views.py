"""Console pages inside the admin (wrapped by ``admin.site.admin_view`` in console/urls.py)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from common.errors import NotFound
from tasks.models import CloudTask

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
    }
    return TemplateResponse(request, "console/task_timeline.html", context)
