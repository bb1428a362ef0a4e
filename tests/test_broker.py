"""The filesystem broker publishes whole messages only."""

import os

import pytest
from kombu import Connection
from kombu.exceptions import ChannelError

from opsplatform.broker import Transport


@pytest.fixture
def connection(tmp_path):
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path)}
    with Connection("filesystem://", transport_options=options) as conn:
        yield conn, folder


def test_the_filesystem_scheme_uses_the_atomic_transport(connection):
    import opsplatform.celery  # noqa: F401  (registers the alias)

    conn, _ = connection
    assert isinstance(conn.transport, Transport)


def test_a_message_round_trips_and_leaves_no_partial_file(connection):
    conn, folder = connection
    queue = conn.SimpleQueue("q1")
    queue.put({"operation_id": 7, "type": "operation"})
    assert [name.endswith(".q1.msg") for name in os.listdir(folder)] == [True]
    message = queue.get(timeout=1)
    assert message.payload == {"operation_id": 7, "type": "operation"}
    message.ack()
    assert os.listdir(folder) == []
    queue.close()


def test_a_failed_write_leaves_nothing_a_consumer_could_take(connection, monkeypatch):
    conn, folder = connection
    channel = conn.default_channel

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ChannelError):
        channel._put("q2", {"n": 1})
    assert os.listdir(folder) == []
