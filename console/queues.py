"""How many messages wait in the tasker's queues, as far as the broker can tell.

Asked with a passive ``queue_declare`` through kombu, which every transport the
platform runs on answers: RabbitMQ from its own count, Redis from the list
lengths, the filesystem transport by counting its message files. A queue that
does not exist yet, a broker that does not answer within the timeout, or a
transport that cannot count gives ``None`` ("unknown"), never an error page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueDepth:
    name: str
    messages: int | None
    consumers: int | None


def tasker_queue_names() -> list[str]:
    return [settings.QUEUE_OPERATION_TASK, settings.QUEUE_SUBTASK, settings.QUEUE_TASKDONE]


def queue_depths(
    *,
    names: list[str] | None = None,
    timeout: float = 0.5,
    broker_url: str | None = None,
    transport_options: dict | None = None,
) -> list[QueueDepth]:
    """Depth of each named queue (default: the three V3 queues); ``None`` where unknown.

    ``broker_url`` and ``transport_options`` default to the Celery app's broker.
    """
    from opsplatform.celery import app

    names = tasker_queue_names() if names is None else names
    unknown = [QueueDepth(name, None, None) for name in names]
    try:
        connection = app.connection_for_read(
            url=broker_url, connect_timeout=timeout, transport_options=transport_options or {}
        )
        with connection:
            connection.ensure_connection(max_retries=0, timeout=timeout)
            return [_depth(connection, name) for name in names]
    except Exception as error:  # the broker is down or unreachable: the page still answers
        logger.warning("queue depth unknown: %s", error)
        return unknown


def _depth(connection, name: str) -> QueueDepth:
    # A refused passive declare closes the channel on AMQP: one channel per queue.
    channel = connection.channel()
    try:
        declared = channel.queue_declare(queue=name, passive=True)
        return QueueDepth(name, int(declared.message_count), int(declared.consumer_count))
    except Exception as error:
        logger.info("queue %s: depth unknown (%s)", name, error)
        return QueueDepth(name, None, None)
    finally:
        try:
            channel.close()
        except Exception:  # already closed by the broker's refusal
            logger.debug("channel for %s was already closed", name)
