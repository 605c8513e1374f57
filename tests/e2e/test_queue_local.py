"""queued + deliverd --local end to end, submitting with mailctl sendmail."""
import os
import re

import pytest

from queue_env import QueueEnv


@pytest.fixture
def env(tmp_parent):
    e = QueueEnv(tmp_parent)
    e.add_user("alice@example.test")
    e.add_user("bob@example.test")
    e.start()
    yield e
    e.stop()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_sendmail_delivers_to_maildir(env):
    body = "Subject: hello\n\nline one\n.leading dot\nlast line\n"
    env.sendmail("-i", "-f", "bob@example.test", "alice@example.test", input=body)
    [path] = env.wait_mail("alice@example.test")
    data = read(path)
    assert data.startswith(b"Return-Path: <bob@example.test>\nDelivered-To: alice@example.test\n")
    assert b"\r" not in data
    assert b"Subject: hello\n" in data and b"\n.leading dot\nlast line\n" in data
    assert b"Received: by mx.example.test (tern sendmail" in data
    name = os.path.basename(path)
    m = re.search(r",S=(\d+),W=(\d+)", name)
    assert m, name
    assert int(m.group(1)) == len(data)
    assert int(m.group(2)) == len(data) + data.count(b"\n")
    env.wait_queue_empty()
