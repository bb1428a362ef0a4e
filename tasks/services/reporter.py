"""The tasker's listener for coreTasker's reports (registered in ``TasksConfig.ready``).

coreTasker calls it after its own commit; it does no database work there and only
sends the report on to queue_taskdone_V3, where :func:`do_async_subtask` applies it.
"""

from __future__ import annotations

from dataclasses import asdict

from coretasker.interface import CoreReport

from .messages import send_report


def report_to_taskdone(report: CoreReport) -> None:
    send_report(asdict(report))
