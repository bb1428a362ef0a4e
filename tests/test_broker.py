"""The development broker writes each message whole before a worker can see it."""

import os

from kombu import Connection

from opsplatform import broker


def test_a_message_appears_only_complete_and_reads_back(tmp_path, monkeypatch):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "store_processed": False}
    seen_at_rename = []
    real_replace = os.replace

    def replace(source, target):
        seen_at_rename.append(sorted(os.listdir(tmp_path)))
        with open(source, "rb") as file:
            assert file.read()  # complete before it gets its readable name
        return real_replace(source, target)

    monkeypatch.setattr(broker.os, "replace", replace)
    with Connection("filesystem://", transport=broker.Transport, transport_options=options) as conn:
        channel = conn.default_channel
        channel._put("q1", {"body": "hello"})
        assert len(seen_at_rename) == 1
        assert not [name for name in seen_at_rename[0] if name.endswith(".msg")]  # readers ignore the partial
        assert [name for name in os.listdir(tmp_path) if name.endswith("q1.msg")]
        assert channel._get("q1") == {"body": "hello"}
        assert os.listdir(tmp_path) == []
