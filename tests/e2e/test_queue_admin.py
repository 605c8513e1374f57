"""mailctl queue list/show/hold/release/delete/flush/pause/resume/rebuild,
retries on a short schedule, delay and failure DSNs, and recovery at start."""
import email
import email.policy
import os
import re
import shutil

import pytest

from conftest import wait_for
from queue_env import QueueEnv

QID = re.compile(r"^[0-9A-F]{16}$")


@pytest.fixture
def make_env(tmp_parent):
    made = []

    def make(**kw):
        e = QueueEnv(tmp_parent, name=f"q{len(made)}", **kw)
        e.add_user("alice@example.test")
        e.add_user("bob@example.test")
        made.append(e)
        return e
    yield make
    for e in made:
        e.stop()


@pytest.fixture
def env(make_env):
    e = make_env()
    e.start()
    return e


def send(env, rcpt="alice@example.test", subject="s", sender="bob@example.test"):
    env.sendmail("-i", "-f", sender, rcpt, input=f"Subject: {subject}\n\nbody {subject}\n")


def only_id(env):
    lines = env.queue_list()
    assert len(lines) == 1, lines
    qid = lines[0].split()[0]
    assert QID.match(qid)
    return qid, lines[0]


def test_pause_list_show_resume(env):
    assert env.ctl("queue", "pause").stdout.strip() == "deliveries paused"
    send(env, subject="p1")
    qid, line = only_id(env)
    f = line.split()
    # id size age sender recipients state next
    assert len(f) == 7 and int(f[1]) > 0 and f[3] == "<bob@example.test>"
    assert f[4] == "alice@example.test" and f[5] == "paused"
    show = env.ctl("queue", "show", qid).stdout
    assert f"id: {qid}" in show and "sender: <bob@example.test>" in show
    assert "rcpt: <alice@example.test> pending" in show
    assert env.maildir_files("alice@example.test") == []
    env.ctl("queue", "resume")
    env.wait_mail("alice@example.test")
    env.wait_queue_empty()


def test_hold_release_delete(env):
    env.ctl("queue", "pause")
    send(env, subject="held")
    qid, _ = only_id(env)
    assert env.ctl("queue", "hold", qid).stdout.strip() == f"{qid}: held"
    env.ctl("queue", "resume")
    _, line = only_id(env)
    assert line.split()[5] == "held"
    assert env.maildir_files("alice@example.test") == []
    env.ctl("queue", "release", qid)
    env.wait_mail("alice@example.test")
    env.wait_queue_empty()

    env.ctl("queue", "pause")
    send(env, subject="doomed")
    qid, _ = only_id(env)
    env.ctl("queue", "delete", qid)
    env.wait_queue_empty()
    env.ctl("queue", "resume")
    assert not os.path.exists(env.path("spool", "msg", qid))
    assert len(env.maildir_files("alice@example.test")) == 1


def test_all_and_errors(env):
    env.ctl("queue", "pause")
    for i in range(3):
        send(env, subject=f"a{i}")
    assert env.ctl("queue", "hold", "all").stdout.strip() == "3 message(s) held"
    assert all(l.split()[5] == "held" for l in env.queue_list())
    env.ctl("queue", "release", "all")
    env.ctl("queue", "delete", "all")
    env.wait_queue_empty()
    p = env.ctl("queue", "show", "0000000000000000", check=False)
    assert p.returncode != 0 and "no such message" in p.stderr
    p = env.ctl("queue", "frobnicate", check=False)
    assert p.returncode != 0 and "unknown" in p.stderr


def test_flush_retries_deferred_now(env):
    env.kill("authd")		# lookups fail: the recipient is deferred
    os.unlink(env.path("run", "auth.sock"))
    send(env, subject="later")
    assert env.wait_log("status=deferred (auth service unavailable)")
    qid, line = only_id(env)
    assert line.split()[5] == "deferred" and line.split()[6] != "now"
    env.start_auth()
    assert "1 message(s) scheduled" in env.ctl("queue", "flush").stdout
    env.wait_mail("alice@example.test")
    env.wait_queue_empty()


def test_retry_schedule_then_bounce_and_delay_warning(make_env):
    env = make_env(queued_conf={"minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
                                "maximal_queue_lifetime": "7s", "delay_warning_time": "2s"})
    env.add_user("full@example.test", quota=100)
    env.start()
    send(env, rcpt="full@example.test", subject="retry")
    files = env.wait_mail("bob@example.test", count=2, timeout=40)
    kinds = []
    for p in files:
        with open(p, "rb") as f:
            msg = email.message_from_bytes(f.read(), policy=email.policy.compat32)
        assert msg.get_content_type() == "multipart/report"
        rcpt = [dict((k.lower(), v) for k, v in b.items())
                for b in msg.get_payload()[1].get_payload()][1]
        kinds.append((rcpt["action"], rcpt["status"]))
    assert sorted(kinds) == [("delayed", "4.2.2"), ("failed", "4.2.2")]
    attempts = len(re.findall(r"to=<full@example.test>.*status=deferred", env.log_text()))
    assert attempts >= 3
    assert "delivery time expired" in env.log_text()
    env.wait_queue_empty()


def test_recovery_after_kill_and_lost_index(env):
    env.ctl("queue", "pause")
    for i in range(3):
        send(env, subject=f"r{i}")
    ids = sorted(l.split()[0] for l in env.queue_list())
    env.kill("queued")
    env.start_queued()		# recovery from the index
    assert sorted(l.split()[0] for l in env.queue_list()) == ids
    env.kill("queued")
    shutil.rmtree(env.path("spool", "db"))	# index lost: rebuilt from the files
    env.start_queued()
    assert sorted(l.split()[0] for l in env.queue_list()) == ids
    assert "re-indexed from its trailer" in env.log_text()
    env.ctl("queue", "resume")
    env.wait_mail("alice@example.test", count=3)
    env.wait_queue_empty()


def test_rebuild_reindexes_and_reports(env):
    env.ctl("queue", "pause")
    send(env, subject="rb")
    out = env.ctl("queue", "rebuild").stdout
    assert "queue: 1 message(s)" in out
    # A file nobody can read is moved aside, never silently dropped.
    with open(env.path("spool", "msg", "0123456789ABCDEF"), "wb") as f:
        f.write(b"garbage without a trailer")
    out = env.ctl("queue", "rebuild").stdout
    assert "1 unreadable file(s) moved to corrupt/" in out
    assert os.path.exists(env.path("spool", "corrupt", "0123456789ABCDEF"))
    env.ctl("queue", "resume")
    env.wait_mail("alice@example.test")


def test_interrupted_commit_is_held_not_delivered(env):
    """A file whose record never became durable (the client was not told
    "accepted") is kept on hold by recovery, not delivered behind the client's
    back; a record whose file vanished is dropped with an error naming it."""
    env.ctl("queue", "pause")
    send(env, subject="orphan")
    qid, _ = only_id(env)
    src = env.path("spool", "msg", qid)
    aside = env.path("orphan-file")
    env.kill("queued")
    os.rename(src, aside)
    env.start_queued()		# record without file: dropped, logged
    assert env.queue_list() == []
    assert f"{qid}: index record without spool file" in env.log_text()
    assert f"{qid}: lost to=<alice@example.test>" in env.log_text()
    env.kill("queued")
    os.rename(aside, src)
    env.start_queued()		# file without record: held
    _, line = only_id(env)
    assert line.split()[5] == "held"
    assert "commit interrupted before it was acknowledged" in env.log_text()
    env.ctl("queue", "resume")
    env.ctl("queue", "release", qid)
    env.wait_mail("alice@example.test")
    env.wait_queue_empty()


def test_sighup_rereads_config_or_keeps_it(make_env):
    import signal
    env = make_env(queued_conf={"minimal_backoff_time": "1h", "maximal_backoff_time": "1h"})
    env.add_user("full@example.test", quota=100)
    env.start()
    env.set_conf("queued", "minimal_backoff_time", "bogus")
    env.procs["queued"].send_signal(signal.SIGHUP)
    assert env.wait_log("reload failed: keeping the current settings")
    send(env, rcpt="full@example.test", subject="hup")
    assert env.wait_log("retry in 3600s")
    env.set_conf("queued", "minimal_backoff_time", "1s")
    env.set_conf("queued", "maximal_backoff_time", "1s")
    env.procs["queued"].send_signal(signal.SIGHUP)
    assert env.wait_log("configuration reloaded")
    env.ctl("queue", "flush")
    assert env.wait_log("retry in 1s")
