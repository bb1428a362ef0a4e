"""coreTasker's tables: the execution layer below the tasker.

Table and column names are the notes' (底层数据库整理 coreTasker). A
``workflow_task`` is one request from the tasker; its ``workflow_subtask`` rows
are the plan coreTasker runs for it.
"""

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class CpuTypeTpl(models.Model):
    """A CPU type template (api_cputypetpl); VM specs name one by ``code``."""

    name = models.CharField(_("CPU type name"), max_length=64)
    code = models.CharField(_("type code"), max_length=32, unique=True)

    class Meta:
        db_table = "api_cputypetpl"
        ordering = ["code"]
        verbose_name = _("CPU type template")
        verbose_name_plural = _("CPU type templates")

    def __str__(self):
        return f"{self.name} ({self.code})"


class TargetType(models.TextChoices):
    """The nine values of ``workflow_task.target_type`` listed in the notes."""

    ACTION = "action", _("action")
    APP = "app", _("app")
    DESTROY_VM = "destroy_vm", _("destroy VM")
    GIC = "gic", _("GIC")
    GIC_EXTENSION = "gic_extension", _("GIC extension")
    NIC = "nic", _("NIC")
    PIPE = "pipe", _("pipe")
    TRAFFIC = "traffic", _("traffic")
    VM = "vm", _("VM")


class WorkflowStatus(models.TextChoices):
    NEW = "NEW", _("new")
    DOING = "DOING", _("doing")
    DONE = "DONE", _("done")
    ERROR = "ERROR", _("error")
    CANCELLED = "CANCELLED", _("cancelled")


class WorkflowMode(models.TextChoices):
    """How the tasker asked: answered at once (sync) or accepted and reported later (async)."""

    SYNC = "sync", _("synchronous")
    ASYNC = "async", _("asynchronous")


class WorkflowTask(models.Model):
    """workflow_task (底层主任务): one request the tasker made of coreTasker.

    ``target_type``: the kind of resource, from the action (interface.ACTION_TARGET_TYPES);
    ``task_type``: the driver action; ``target_obj``: the resource id; ``task_info``: a
    readable line per event (submitted, restarted); ``step``: the plan group running
    now; ``progress``: the share of subtasks done; ``pri``: 0 (lowest) .. 9 (highest),
    also the Celery message priority; ``queue``: the Celery queue it runs on (empty when
    run inline for a synchronous request); ``celery_task_id``: the Celery task that
    started the run (async) or the caller's Celery task (sync); ``run_dev``: the device
    of the cloud that carried out the last step (e.g. the hypervisor host);
    ``restart``: how many times it was restarted; ``is_valid``: false while the cloud
    holds a half-done result of it (a step failed after earlier steps took effect), true
    again once a restart completes it; ops filter on it to find half-built resources.
    """

    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    target_type = models.CharField(_("target type"), max_length=16, choices=TargetType.choices)
    task_type = models.CharField(_("task type"), max_length=64, help_text=_("The action run, e.g. create_vm."))
    target_obj = models.CharField(_("target object"), max_length=128, blank=True, db_index=True)
    task_info = models.TextField(_("task information"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=WorkflowStatus.choices, default=WorkflowStatus.NEW, db_index=True
    )
    step = models.PositiveIntegerField(_("step"), default=0, help_text=_("The plan step being run."))
    error_msg = models.TextField(_("error message"), blank=True)
    celery_task_id = models.CharField(_("Celery task id"), max_length=64, blank=True)
    params = models.JSONField(_("task parameters"), default=dict, blank=True)
    result = models.JSONField(_("task result"), null=True, blank=True)
    restart = models.PositiveIntegerField(_("restart count"), default=0)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0, validators=[MaxValueValidator(100)])
    site_id = models.CharField(_("site ID"), max_length=64, blank=True)
    site_name = models.CharField(_("site name"), max_length=128, blank=True)
    pri = models.PositiveSmallIntegerField(_("priority"), default=5, validators=[MaxValueValidator(9)])
    queue = models.CharField(_("queue"), max_length=64, blank=True)
    customer_id = models.CharField(_("customer ID"), max_length=64, blank=True, db_index=True)
    is_valid = models.BooleanField(_("is valid"), default=True)
    run_dev = models.CharField(_("run device"), max_length=128, blank=True)
    mode = models.CharField(_("mode"), max_length=8, choices=WorkflowMode.choices, default=WorkflowMode.SYNC)
    idempotency_key = models.CharField(
        _("idempotency key"),
        max_length=128,
        unique=True,
        null=True,
        blank=True,
        help_text=_("The tasker subtask id and attempt; a second request with the same key finds this row."),
    )

    class Meta:
        db_table = "workflow_task"
        ordering = ["-id"]
        verbose_name = _("workflow task")
        verbose_name_plural = _("workflow tasks")
        permissions = [
            ("restart_workflowtask", _("Can restart a failed workflow task")),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="wf_task_status_created"),
            models.Index(fields=["target_type", "status"], name="wf_task_target_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="wf_task_progress_lte_100"),
            models.CheckConstraint(condition=models.Q(pri__lte=9), name="wf_task_pri_lte_9"),
        ]

    def __str__(self):
        return f"workflow_task #{self.pk} {self.task_type} [{self.status}]"


class WorkflowSubtask(models.Model):
    """workflow_subtask (子任务表): one step of a workflow_task's plan.

    ``parent_id``: the workflow_task. ``step``: its position in the plan (1, 2, ...).
    ``status``: NEW (planned or queued), DOING, DONE, ERROR. ``agent``: the part of the
    cloud that carries it out, as the driver names it (``sim-scheduler``,
    ``sim-storage``, ...). ``params``: the step name and the request parameters it ran
    with. ``result``: what the driver answered, or ``{"error": {...}}``.
    ``celery_task_id``: the Celery message that runs it (empty when run inline; set when
    it is queued, so a redelivered start never queues it twice). ``group_id``: subtasks
    of one group do not depend on each other and run in parallel; groups run in order.
    ``brother_id``: the subtask that runs just before it in plan order (none for the
    first). ``is_last``: it belongs to the last group; when every last one is DONE the
    workflow_task is DONE. ``result_key_id``: the subtask whose result this one
    consumes as its input (the producer), e.g. ``create_disk`` consumes
    ``allocate_host``'s host.
    """

    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    parent = models.ForeignKey(WorkflowTask, models.CASCADE, related_name="subtasks", verbose_name=_("parent task id"))
    step = models.PositiveIntegerField(_("step"))
    status = models.CharField(
        _("status"), max_length=16, choices=WorkflowStatus.choices, default=WorkflowStatus.NEW, db_index=True
    )
    agent = models.CharField(_("agent"), max_length=64, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    celery_task_id = models.CharField(_("Celery task id"), max_length=64, blank=True)
    brother = models.ForeignKey(
        "self", models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("brother subtask")
    )
    group_id = models.PositiveIntegerField(_("group"), default=0)
    result_key = models.ForeignKey(
        "self", models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("result key subtask")
    )
    is_last = models.BooleanField(_("is last"), default=False)

    class Meta:
        db_table = "workflow_subtask"
        ordering = ["parent_id", "step"]
        verbose_name = _("workflow subtask")
        verbose_name_plural = _("workflow subtasks")
        constraints = [models.UniqueConstraint(fields=["parent", "step"], name="wf_subtask_parent_step_uniq")]

    def __str__(self):
        return f"workflow_subtask #{self.pk} step {self.step} [{self.status}]"
