"""The tasker's tables: operations placed by resop, tasks, subtasks, error logs.

Statuses keep the notes' spelling (NEW, LOCK, DOING, ...). The tasker sits above
coreTasker and below orders: an order's id is kept here as a plain reference,
never as a foreign key, so this app never imports the orders app.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class OperationStatus(models.TextChoices):
    NEW = "NEW", _("new")
    LOCK = "LOCK", _("locked")
    DOING = "DOING", _("doing")
    DONE = "DONE", _("done")
    ERROR = "ERROR", _("error")
    CANCELLED = "CANCELLED", _("cancelled")


class TaskStatus(models.TextChoices):
    NEW = "NEW", _("new")
    DOING = "DOING", _("doing")
    DONE = "DONE", _("done")
    ERROR = "ERROR", _("error")
    CANCELLED = "CANCELLED", _("cancelled")


class SubtaskStatus(models.TextChoices):
    NEW = "NEW", _("new")
    PREPARE = "PREPARE", _("prepare")
    DOING = "DOING", _("doing")
    ASYNC = "ASYNC", _("asynchronous")
    DONE = "DONE", _("done")
    ERROR = "ERROR", _("error")
    CANCELLED = "CANCELLED", _("cancelled")


class SubtaskMode(models.TextChoices):
    SYNC = "sync", _("synchronous")
    ASYNC = "async", _("asynchronous")


class ResUserOperation(models.Model):
    """res_user_operation: the row resop writes when an operation is placed."""

    customer_id = models.CharField(_("customer ID"), max_length=64, db_index=True)
    task_type = models.CharField(_("operation type"), max_length=32, db_index=True)
    resource_type = models.CharField(_("resource type"), max_length=32)
    resource_id = models.CharField(_("resource ID"), max_length=64)
    site_id = models.CharField(_("site ID"), max_length=64, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    task_status = models.CharField(
        _("task status"), max_length=16, choices=OperationStatus.choices, default=OperationStatus.NEW
    )
    order_id = models.BigIntegerField(_("order ID"), null=True, blank=True, db_index=True)
    suborder_id = models.BigIntegerField(_("sub-order ID"), null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    error_msg = models.TextField(_("error message"), blank=True)
    request_key = models.CharField(
        _("request key"),
        max_length=128,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Set when the operation was placed for an order: a redelivered order message finds this row."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "res_user_operation"
        ordering = ["-id"]
        verbose_name = _("resource operation")
        verbose_name_plural = _("resource operations")
        indexes = [
            models.Index(fields=["task_status", "created_at"], name="res_op_status_created"),
            models.Index(fields=["resource_type", "resource_id"], name="res_op_resource"),
            models.Index(fields=["created_at"], name="res_op_created"),
        ]

    def __str__(self):
        return f"operation #{self.pk} {self.task_type} {self.resource_type}:{self.resource_id}"


class CloudTask(models.Model):
    """cloud_task: the main task made from one operation."""

    operation = models.OneToOneField(
        ResUserOperation,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="task",
        verbose_name=_("operation"),
    )
    task_type = models.CharField(_("task type"), max_length=32, db_index=True)
    customer_id = models.CharField(_("customer ID"), max_length=64, db_index=True)
    resource_type = models.CharField(_("resource type"), max_length=32)
    resource_id = models.CharField(_("resource ID"), max_length=64)
    site_id = models.CharField(_("site ID"), max_length=64, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.NEW)
    order_id = models.BigIntegerField(_("order ID"), null=True, blank=True, db_index=True)
    suborder_id = models.BigIntegerField(_("sub-order ID"), null=True, blank=True, db_index=True)
    blocked_by = models.ForeignKey(
        "self",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("blocked by task"),
        help_text=_("The unfinished task that held this task's resource lock."),
    )
    error_msg = models.TextField(_("error message"), blank=True)
    current_group = models.PositiveSmallIntegerField(
        _("current group"), default=0, help_text=_("The flow group whose subtasks have been sent; 0 before the first.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        db_table = "cloud_task"
        ordering = ["-id"]
        verbose_name = _("cloud task")
        verbose_name_plural = _("cloud tasks")
        permissions = [
            ("retry_task", _("Can retry a failed task")),
            ("cancel_task", _("Can cancel a task")),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="cloud_task_status_created"),
            models.Index(fields=["resource_type", "resource_id"], name="cloud_task_resource"),
            models.Index(fields=["created_at"], name="cloud_task_created"),
        ]

    def __str__(self):
        return f"task #{self.pk} {self.task_type} [{self.status}]"


class CloudTaskSubtask(models.Model):
    """cloud_task_subtask: one step of a task's flow."""

    task = models.ForeignKey(CloudTask, models.CASCADE, related_name="subtasks", verbose_name=_("task"))
    step = models.PositiveSmallIntegerField(_("step"), help_text=_("Position in the task flow, from 1."))
    group = models.PositiveSmallIntegerField(_("group"), default=1, help_text=_("Steps of one group run in parallel."))
    action = models.CharField(_("action"), max_length=64)
    mode = models.CharField(_("mode"), max_length=8, choices=SubtaskMode.choices, default=SubtaskMode.SYNC)
    status = models.CharField(_("status"), max_length=16, choices=SubtaskStatus.choices, default=SubtaskStatus.NEW)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    max_attempts = models.PositiveSmallIntegerField(_("max attempts"), default=1)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0, validators=[MaxValueValidator(100)])
    workflow_task = models.ForeignKey(
        "coretasker.WorkflowTask",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("coreTasker workflow task"),
    )
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    timeout = models.PositiveIntegerField(_("timeout (seconds)"), default=300)
    backoff = models.PositiveIntegerField(
        _("retry backoff (seconds)"), default=0, help_text=_("Wait before the first automatic retry; doubles after.")
    )
    error_msg = models.TextField(_("latest error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        db_table = "cloud_task_subtask"
        ordering = ["task_id", "step"]
        verbose_name = _("cloud task subtask")
        verbose_name_plural = _("cloud task subtasks")
        permissions = [
            ("retry_subtask", _("Can retry a failed subtask")),
        ]
        constraints = [models.UniqueConstraint(fields=["task", "step"], name="cloud_subtask_task_step_uniq")]
        indexes = [
            models.Index(fields=["status", "deadline"], name="cloud_subtask_status_deadline"),
            models.Index(fields=["status", "updated_at"], name="cloud_subtask_status_updated"),
        ]

    def __str__(self):
        return f"subtask #{self.pk} {self.action} [{self.status}]"


class CloudTaskErrorLog(models.Model):
    """cloud_task_error_logs: every error of a task or subtask, kept across retries."""

    task = models.ForeignKey(CloudTask, models.CASCADE, related_name="error_logs", verbose_name=_("task"))
    subtask = models.ForeignKey(
        CloudTaskSubtask,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="error_logs",
        verbose_name=_("subtask"),
    )
    step = models.PositiveSmallIntegerField(_("step"), null=True, blank=True)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=0)
    error_class = models.CharField(_("error class"), max_length=128)
    message = models.TextField(_("error message"))
    traceback = models.TextField(_("traceback"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        db_table = "cloud_task_error_logs"
        ordering = ["-id"]
        verbose_name = _("task error log")
        verbose_name_plural = _("task error logs")

    def __str__(self):
        return f"error #{self.pk} task {self.task_id}: {self.error_class}"


class CloudTaskResourceLock(models.Model):
    """cloud_task_resource_lock: which unfinished task holds a resource.

    The unique key on (resource_type, resource_id) is the lock: it is taken by an
    INSERT, so two tasks starting at the same instant cannot both get it.
    """

    resource_type = models.CharField(_("resource type"), max_length=32)
    resource_id = models.CharField(_("resource ID"), max_length=64)
    task = models.OneToOneField(CloudTask, models.CASCADE, related_name="resource_lock", verbose_name=_("task"))
    created_at = models.DateTimeField(_("locked at"), auto_now_add=True)

    class Meta:
        db_table = "cloud_task_resource_lock"
        verbose_name = _("resource lock")
        verbose_name_plural = _("resource locks")
        constraints = [
            models.UniqueConstraint(fields=["resource_type", "resource_id"], name="cloud_lock_resource_uniq"),
        ]

    def __str__(self):
        return f"{self.resource_type}:{self.resource_id} held by task #{self.task_id}"


class TaskAction(models.TextChoices):
    RETRY_TASK = "retry_task", _("retry task")
    RETRY_SUBTASK = "retry_subtask", _("retry subtask")
    CANCEL_TASK = "cancel_task", _("cancel task")


class CloudTaskActionLog(models.Model):
    """cloud_task_action_log: who retried or cancelled what, and why (append-only)."""

    task = models.ForeignKey(CloudTask, models.CASCADE, related_name="action_logs", verbose_name=_("task"))
    subtask = models.ForeignKey(
        CloudTaskSubtask, models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("subtask")
    )
    action = models.CharField(_("action"), max_length=16, choices=TaskAction.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
        help_text=_("Empty when the system acted."),
    )
    reason = models.TextField(_("reason"))
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        db_table = "cloud_task_action_log"
        ordering = ["-id"]
        verbose_name = _("task action log")
        verbose_name_plural = _("task action logs")

    def __str__(self):
        return f"{self.action} task #{self.task_id}"


class MessageDelivery(models.Model):
    """cloud_task_message_delivery: how often a redelivered message came back.

    Only written when the broker marks a message as redelivered (its worker died
    or lost its connection before acknowledging), so the normal path costs nothing.
    """

    message_id = models.CharField(_("message ID"), max_length=64, unique=True)
    task_name = models.CharField(_("entry point"), max_length=64)
    body = models.JSONField(_("body"), default=dict)
    deliveries = models.PositiveIntegerField(_("deliveries"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "cloud_task_message_delivery"
        verbose_name = _("message delivery")
        verbose_name_plural = _("message deliveries")

    def __str__(self):
        return f"{self.task_name} {self.message_id} x{self.deliveries}"
