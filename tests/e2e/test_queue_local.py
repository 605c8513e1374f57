"""queued + deliverd --local end to end, submitting with mailctl sendmail:
Maildir format, sendmail -t, aliases, +detail, catch-all, quota, loops."""
import email
import email.policy
import os
import re

import pytest

from queue_env import QueueEnv


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


def read(path):
    with open(path, "rb") as f:
        return f.read()


def parse(path):
    return email.message_from_bytes(read(path), policy=email.policy.compat32)


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
    m = re.search(r",S=(\d+),W=(\d+)$", name)
    assert m, name
    assert int(m.group(1)) == len(data)
    assert int(m.group(2)) == len(data) + data.count(b"\n")
    env.wait_queue_empty()
    assert re.search(r"[0-9A-F]{16}: to=<alice@example.test>.*status=sent", env.log_text())


def test_sendmail_dot_ends_input_without_i(env):
    env.sendmail("alice@example.test", input="Subject: dot\n\nbefore\n.\nafter\n")
    [path] = env.wait_mail("alice@example.test")
    data = read(path)
    assert b"before\n" in data and b"after" not in data


def test_sendmail_t_reads_recipients_and_drops_bcc(env):
    env.add_user("carol@example.test")
    msg = ("From: bob@example.test\nTo: Alice <alice@example.test>\n"
           "Cc: bob@example.test\nBcc: carol@example.test\nSubject: t\n\nhi\n")
    env.sendmail("-t", "-i", input=msg)
    for who in ("alice", "bob", "carol"):
        [p] = env.wait_mail(f"{who}@example.test")
        assert b"Bcc:" not in read(p)
        assert f"Delivered-To: {who}@example.test\n".encode() in read(p)


def test_sendmail_without_recipients_fails(env):
    p = env.sendmail(input="Subject: x\n\n", check=False)
    assert p.returncode == 64 and "no recipients" in p.stderr


def test_alias_to_several_mailboxes(env):
    env.add_alias("team@example.test", ["alice@example.test", "bob@example.test"])
    env.sendmail("-i", "team@example.test", input="Subject: team\n\nhello team\n")
    [a] = env.wait_mail("alice@example.test")
    [b] = env.wait_mail("bob@example.test")
    assert b"Delivered-To: alice@example.test\n" in read(a)
    assert b"Delivered-To: bob@example.test\n" in read(b)


def test_plus_detail_goes_to_folder_when_it_exists(env):
    env.add_folder("alice@example.test", "work")
    env.sendmail("-i", "alice+work@example.test", input="Subject: w\n\nwork\n")
    env.sendmail("-i", "bob+nofolder@example.test", input="Subject: n\n\nno folder\n")
    [w] = env.wait_mail("alice@example.test", folder="work")
    assert b"Subject: w" in read(w)
    [n] = env.wait_mail("bob@example.test")
    assert b"Subject: n" in read(n)
    env.wait_queue_empty()
    assert env.maildir_files("alice@example.test") == []


def test_catch_all(env):
    env.set_catchall("example.test", "bob@example.test")
    env.sendmail("-i", "whoever@example.test", input="Subject: c\n\ncatch\n")
    [p] = env.wait_mail("bob@example.test")
    assert b"Subject: c" in read(p)


def dsn_parts(path):
    msg = parse(path)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    status = parts[1].get_payload()
    # email parses message/delivery-status as a list of header blocks
    blocks = [dict((k.lower(), v) for k, v in b.items()) for b in status]
    return msg, blocks, parts


def test_unknown_user_bounces_with_dsn(env):
    env.sendmail("-i", "-f", "bob@example.test", "nobody@example.test",
                 input="Subject: lost\n\nfor nobody\n")
    [p] = env.wait_mail("bob@example.test")
    msg, blocks, parts = dsn_parts(p)
    assert read(p).startswith(b"Return-Path: <>\n")
    assert blocks[0]["reporting-mta"] == "dns; mx.example.test"
    rc = blocks[1]
    assert rc["final-recipient"] == "rfc822; nobody@example.test"
    assert rc["action"] == "failed" and rc["status"] == "5.1.1"
    assert parts[2].get_content_type() == "message/rfc822"
    assert b"for nobody" in read(p)
    env.wait_queue_empty()


def test_null_sender_never_bounced(env):
    env.sendmail("-i", "-f", "<>", "nobody@example.test", input="Subject: x\n\nx\n")
    env.wait_queue_empty()
    assert "null sender: no notification" in env.log_text()
    assert env.maildir_files("bob@example.test") == []


def test_loop_detection_by_hops_and_delivered_to(env):
    hops = "".join(f"Received: from h{i} by h{i+1}; Thu, 1 Jan 2026 00:00:00 +0000\n"
                   for i in range(60))
    env.sendmail("-i", "-f", "bob@example.test", "alice@example.test",
                 input=hops + "Subject: hops\n\nx\n")
    env.sendmail("-i", "-f", "bob@example.test", "alice@example.test",
                 input="Delivered-To: alice@example.test\nSubject: loop\n\nx\n")
    files = env.wait_mail("bob@example.test", count=2)
    statuses = sorted(dsn_parts(f)[1][1]["status"] for f in files)
    assert statuses == ["5.4.6", "5.4.6"]
    env.wait_queue_empty()
    assert env.maildir_files("alice@example.test") == []
    assert "mail forwarding loop for alice@example.test" in env.log_text()
    assert "too many hops" in env.log_text()


def test_quota_defers_by_default(env):
    env.add_user("small@example.test", quota=2000)
    env.sendmail("-i", "small@example.test", input="Subject: big\n\n" + "x" * 3000 + "\n")
    assert env.wait_log("status=deferred")
    [line] = env.queue_list()
    assert "deferred" in line and "small@example.test" in line
    qid = line.split()[0]
    show = env.ctl("queue", "show", qid).stdout
    assert "4.2.2" in show and "over quota" in show
    assert env.maildir_files("small@example.test") == []


def test_quota_bounce_when_configured(make_env):
    env = make_env(deliverd_conf={"over_quota": "bounce"})
    env.add_user("small@example.test", quota=2000)
    env.start()
    env.sendmail("-i", "-f", "bob@example.test", "small@example.test",
                 input="Subject: big\n\n" + "x" * 3000 + "\n")
    [p] = env.wait_mail("bob@example.test")
    assert dsn_parts(p)[1][1]["status"] == "5.2.2"
    env.wait_queue_empty()


def test_invoked_as_sendmail(env, tmp_parent):
    import subprocess
    from conftest import MAILCTL
    link = os.path.join(tmp_parent, "sendmail")
    os.symlink(os.path.abspath(MAILCTL), link)
    p = subprocess.run([link, "-oi", "-f", "bob@example.test", "alice@example.test"],
                       input=b"Subject: via argv0\n\nhello\n", capture_output=True, timeout=60,
                       env=dict(os.environ, TERN_CONFIG=env.dir))
    assert p.returncode == 0, p.stderr
    [path] = env.wait_mail("alice@example.test")
    assert b"Subject: via argv0" in read(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs another local user (CI runs as root)")
def test_any_local_user_may_submit_but_not_administer(env):
    import pwd
    import subprocess
    from conftest import MAILCTL
    nobody = pwd.getpwnam("nobody")
    run = dict(user=nobody.pw_uid, group=nobody.pw_gid, capture_output=True, timeout=60,
               env={"PATH": "/usr/bin:/bin"})
    p = subprocess.run([MAILCTL, "-c", env.dir, "sendmail", "-i", "alice@example.test"],
                       input=b"Subject: from nobody\n\nhi\n", **run)
    assert p.returncode == 0, p.stderr
    [path] = env.wait_mail("alice@example.test")
    data = read(path)
    assert data.startswith(b"Return-Path: <nobody@mx.example.test>\n")
    assert f"from uid {nobody.pw_uid}".encode() in data
    assert re.search(r"client=local uid=%d" % nobody.pw_uid, env.log_text())
    p = subprocess.run([MAILCTL, "-c", env.dir, "queue", "list"], **run)
    assert p.returncode != 0 and b"permission denied" in p.stderr
