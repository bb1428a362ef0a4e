"""coreTasker's services: what the interface, the Celery entry points and the admin call.

- :func:`workflow_submit` / :func:`workflow_lookup`: the tasker's requests (``submit.py``);
- :func:`workflow_start` / :func:`subtask_run`: running a plan (``execution.py``);
- :func:`workflow_restart`: re-running a failed workflow_task (``restart.py``).
"""

from .execution import subtask_run, workflow_start
from .restart import workflow_restart
from .submit import workflow_lookup, workflow_submit

__all__ = ["subtask_run", "workflow_lookup", "workflow_restart", "workflow_start", "workflow_submit"]
