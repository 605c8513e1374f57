"""Only the delivery agents take jobs from queued (issue 19 item 9): a process
of any other account of the suite, root included, or of the same user in an
unprivileged instance, that says QUEUE_AGENT_HELLO on queue.sock without the
run's agent key is refused and logged, and the mail still reaches the real
agent. Before the key, such a process became the newest agent and was handed
other users' messages."""
import os
import socket
import subprocess
import sys

import pytest

from conftest import IS_ROOT
from queue_env import QueueEnv, ensure_accounts
import ternipc as ipc

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = ["tern-smtpd", "tern-vmail", "tern-auth", "tern-pop3d", "tern-imapd",
         "tern-deliverd", "tern-queued"]
ACCOUNTS = (SUITE + ["root"]) if IS_ROOT else [None]
QUEUE_AGENT_HELLO, QUEUE_JOB = 205, 206
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
def read_job(m):
    """The recipients of a QUEUE_JOB (queue_proto.h) with the mailboxes of
    each: {address: [(mailbox, folder, quota, remote)]}."""
    m.str(), m.str(), m.u32(), m._get(ipc.T_U64), m.str(), m.u32()  # id .. ret
    out = {}
    for _ in range(m.u32()):
        m.u32()
        addr = m.str()
        m.str(), m.u32(), m.str()                  # orcpt, notify, hop
        out[addr] = [(m.str(), m.str(), m._get(ipc.T_U64), m.u32()) for _ in range(m.u32())]
    m.str()                                        # prepend
    assert m.pos == len(m.fields)
    return out


def test_job_carries_the_routing_expansion(env):
    """queued routes each recipient with one auth lookup (AUTH_ROUTE) and hands
    the local agent the recipient's mailboxes with the job, so a delivery no
    longer costs a second lookup (issue 17); the real agent delivers them."""
    env.add_user("bob@example.test")
    env.add_folder("bob@example.test", "news")
    env.add_alias("team@example.test", ["alice@example.test", "bob@example.test",
                                        "carol@far.test"])
    env.kill("deliverd")
    assert env.wait_log("delivery agent disconnected")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(env.path("run", "queue.sock"))
    s.settimeout(20)
    c = ipc.Conn(s)
    c.send(ipc.Msg(QUEUE_AGENT_HELLO, 0).u32(0).bytes(env.agent_key))
    env.sendmail("team+news@example.test", "alice@example.test",
                 input="Subject: routed once\n\nbody\n")
    m = c.recv()
    s.close()        # the job is retried with the real agent
    assert m is not None and m.type == QUEUE_JOB
    assert read_job(m) == {
        "team+news@example.test": [("alice@example.test", "news", 0, 0),
                                   ("bob@example.test", "news", 0, 0),
                                   ("carol@far.test", "", 0, 1)],
        "alice@example.test": [("alice@example.test", "", 0, 0)]}
    env.start_deliverd()
    assert len(env.wait_mail("alice@example.test", count=2)) == 2
    env.wait_mail("bob@example.test", folder="news")
