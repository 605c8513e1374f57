"""Only the delivery agents take jobs from queued (issue 19 item 9): a process
of any other account of the suite, root included, or of the same user in an
unprivileged instance, that says QUEUE_AGENT_HELLO on queue.sock without the
run's agent key is refused and logged, and the mail still reaches the real
agent. Before the key, such a process became the newest agent and was handed
other users' messages."""
import os
import subprocess
import sys

import pytest

from conftest import IS_ROOT
from queue_env import QueueEnv, ensure_accounts

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = ["tern-smtpd", "tern-vmail", "tern-auth", "tern-pop3d", "tern-imapd",
         "tern-deliverd", "tern-queued"]
ACCOUNTS = (SUITE + ["root"]) if IS_ROOT else [None]
REFUSAL = "asked to be a delivery agent without the agent key; refused"


@pytest.fixture
def env(tmp_parent):
    ensure_accounts(SUITE)
    e = QueueEnv(tmp_parent)
    e.add_user("alice@example.test")
    e.start()
    yield e
    e.stop()


def rogue(env, account, kind):
    """rogue_agent.py as account (None: this user), started and registered."""
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "rogue_agent.py"),
                          env.path("run", "queue.sock"), kind, "6"],
                         user=account, group=account if account else None,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def finish(p):
    """What the rogue saw (it reads for at most 6 s)."""
    out = p.stdout.read().strip()
    p.wait(timeout=30)
    return out


@pytest.mark.parametrize("kind", ["none", "wrong", "empty"])
def test_hello_without_the_key_is_refused_for_every_account(env, kind):
    rogues = [(a, rogue(env, a, kind)) for a in ACCOUNTS]
    # Mail queued while they wait goes to the real agent, never to a rogue.
    env.sendmail("alice@example.test", input="Subject: for alice\n\nprivate\n")
    got = {a or "self": finish(p) for a, p in rogues}
    assert got == {a or "self": "closed" for a in ACCOUNTS}, env.log_text()[-3000:]
    env.wait_mail("alice@example.test")
    assert env.log_text().count(REFUSAL) >= len(ACCOUNTS)
    env.wait_queue_empty()



def test_job_result_with_trailing_bytes_is_refused_and_the_mail_stays_queued(tmp_parent):
    """A QUEUE_JOB_RES saying "delivered" with a field after its end (issue 19,
    one decoder per queue message, common/queue_codec.h): queued applies none
    of it, logs it and drops the agent's connection; the message stays queued
    and reaches the mailbox through the real agent afterwards."""
    e = QueueEnv(tmp_parent)
    try:
        e.add_user("alice@example.test")
        e.start_auth()
        e.start_queued()
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "rogue_agent.py"),
                              e.path("run", "queue.sock"), "key:" + e.agent_key.hex(), "10"],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        e.sendmail("alice@example.test", input="Subject: for alice\n\nkept\n")
        assert finish(p).split() == ["job", "closed"], e.log_text()[-3000:]
        assert e.wait_log("malformed job result from a delivery agent"), e.log_text()[-3000:]
        assert len(e.queue_list()) >= 1
        assert not e.maildir_files("alice@example.test")
        assert "status=sent" not in e.log_text()
        e.start_deliverd()
        e.ctl("queue", "flush")
        e.wait_mail("alice@example.test")
        e.wait_queue_empty()
    finally:
        e.stop()
