from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = _("Tasks (tasker)")

    def ready(self):
        from coretasker.interface import register_reporter

        from .flows import validate_registry
        from .services.reporter import report_to_taskdone

        # A flow naming an action coreTasker does not know stops the start-up here.
        validate_registry()
        register_reporter(report_to_taskdone)
