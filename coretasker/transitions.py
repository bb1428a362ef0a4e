"""The allowed status changes of workflow_task and workflow_subtask, in one place.

workflow_task:   NEW -> DOING (a run starts) | ERROR (refused before anything ran)
                 DOING -> DONE | ERROR
                 ERROR -> DOING (restart)
workflow_subtask: NEW -> DOING -> DONE | ERROR;  ERROR -> NEW (restart re-plans it)
                 DOING -> NEW (its step's transaction was rolled back by a transient database
                 error: the claim is given back and the retried message runs the step)
"""

from common.transitions import TransitionTable

from .models import WorkflowStatus as S

WORKFLOW_TASK = TransitionTable.build(
    "workflow_task.status",
    {
        S.NEW: {S.DOING, S.ERROR},
        S.DOING: {S.DONE, S.ERROR},
        S.ERROR: {S.DOING},
    },
)

WORKFLOW_SUBTASK = TransitionTable.build(
    "workflow_subtask.status",
    {
        S.NEW: {S.DOING},
        S.DOING: {S.DONE, S.ERROR, S.NEW},
        S.ERROR: {S.NEW},
    },
)
