"""Sandboxing (issue 19): every long-running role runs under its seccomp
allow-list (Seccomp: 2, NoNewPrivs: 1), as root and as an ordinary user. A
system call outside the list kills the process (SIGSYS); the master logs it
naming the role and restarts it as for any crash. A POP3 or IMAP session
process is confined the same way, its mail role logs the kill, and it cannot
reach queue.sock (it may not make a stream socket). The IMAP idle holder
cannot open a message through the folder descriptors it holds for parked
sessions.

The test hook is build/tests/sandbox_probe.so (tests/sandbox_probe.c),
preloaded into the instance's processes: SIGUSR2 makes a process attempt
execve, SIGUSR1 the action named in TERN_SANDBOX_PROBE, SIGWINCH an open of
TERN_SANDBOX_PROBE_HELD through every directory descriptor held. The binaries
under test carry no hook of their own."""
import os
import poplib
import stat
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest

from conftest import IS_ROOT, TERN_BIN, Instance, mailctl, wait_for
from conftest import proc_children as children, proc_gone as gone
from imap_harness import chown_vmail

PROBE = os.path.normpath(os.path.join(TERN_BIN, "..", "tests", "sandbox_probe.so"))
ROLES = ["authd", "queued", "deliverd-local", "deliverd-sts", "deliverd-remote", "pop3d-mail",
         "imapd-idle", "imapd-mail", "httpd-mail", "smtpd", "pop3d", "imapd", "httpd"]
PASSWORD = "Sandbox-pw-1"
# a message put in box's cur/ before the start, as another Maildir tool would
HELD = "1700000000.M1P1.sandbox:2,S"


def probe_env(action=""):
    return dict(os.environ, LD_PRELOAD=PROBE, TERN_SANDBOX_PROBE=action,
                TERN_SANDBOX_PROBE_HELD=HELD)


@pytest.fixture(scope="module")
def inst():
    assert os.path.exists(PROBE), PROBE
    parent = tempfile.mkdtemp(prefix="tern-sandbox-")
    os.chmod(parent, 0o755)
    i = Instance(parent)
    try:
        i.init()
        for name in ("imapd", "pop3d"):
            i.set_conf(name, "plaintext_auth_networks", "127.0.0.0/8")
        i.set_conf("authd", "failure_delay", "0s")
        i.set_conf("imapd", "idle_park_after", "1s")
        i.add_user("box@example.test", PASSWORD)
        cur = os.path.join(i.maildir("box@example.test"), "cur")
        with open(os.path.join(cur, HELD), "wb") as f:
            f.write(b"From: a@remote.test\r\nSubject: held\r\n\r\nnot the holder's\r\n")
        chown_vmail(cur)
        i.ctl("start", env=probe_env("connect:" + os.path.join(i.dir, "run", "queue.sock")))
        i.started = True
        yield i
    finally:
        i.stop()
        shutil.rmtree(parent, ignore_errors=True)


def status(inst, ctl=None):
    out = {}
    for line in (ctl or inst.ctl)("status").stdout.splitlines():
        name, pid, _, state = line.split()
        if state == "running":
            out[name] = int(pid)
    return out


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


def assert_sandboxed(pid, what):
    st = proc_status(pid)
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1", (what, st["Seccomp"], st["NoNewPrivs"])


def kill_and_restart(inst, role, ctl=None):
    """SIGUSR2 (execve) to role: killed by SIGSYS, logged, restarted."""
    pid = status(inst, ctl)[role]
    os.kill(pid, signal.SIGUSR2)
    assert wait_for(lambda: gone(pid), 15), f"{role} survived execve"
    line = f"{role}: pid={pid} killed by SIGSYS"
    assert wait_for(lambda: line in inst.log_text(), 15), inst.log_text()[-2000:]
    assert wait_for(lambda: status(inst, ctl).get(role, pid) != pid, 20), f"{role} not restarted"
    assert_sandboxed(status(inst, ctl)[role], role)


def test_every_role_is_sandboxed(inst):
    st = status(inst)
    assert set(ROLES) <= set(st), st
    for role in set(st) - {"master"}:   # a role added later is checked too
        assert_sandboxed(st[role], role)


def test_a_forbidden_call_kills_each_role_and_the_master_restarts_it(inst):
    for role in ROLES:
        kill_and_restart(inst, role)
    # and the suite still works: a message in and out again
    import smtplib
    with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=20) as s:
        s.sendmail("x@remote.test", ["box@example.test"], "Subject: after\r\n\r\nstill here\r\n")
    new = os.path.join(inst.maildir("box@example.test"), "new")
    assert wait_for(lambda: os.path.isdir(new) and os.listdir(new), 20), inst.log_text()[-2000:]


def session_of(inst, role, login):
    mail = status(inst)[role]
    before = set(children(mail))
    conn = login()
    assert wait_for(lambda: set(children(mail)) - before, 10)
    [pid] = set(children(mail)) - before
    return conn, pid


def imap_login(inst):
    s = socket.create_connection(("127.0.0.1", inst.port("imap")), timeout=20)
    s.recv(4096)
    s.sendall(f"a LOGIN box@example.test {PASSWORD}\r\n".encode())
    got = b""
    while b"a OK" not in got:
        data = s.recv(4096)
        assert data, got
        got += data
    return s


def pop3_login(inst):
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=20)
    p.user("box@example.test")
    p.pass_(PASSWORD)
    return p


@pytest.mark.parametrize("proto", ["imapd", "pop3d"])
def test_a_session_cannot_reach_queue_sock(inst, proto):
    login = (lambda: imap_login(inst)) if proto == "imapd" else (lambda: pop3_login(inst))
    conn, pid = session_of(inst, f"{proto}-mail", login)
    assert_sandboxed(pid, f"{proto} session")
    os.kill(pid, signal.SIGUSR1)	# connect to queue.sock
    assert wait_for(lambda: gone(pid), 15), f"{proto} session made a stream socket"
    line = f"{proto}-session: pid={pid} killed by SIGSYS"
    assert wait_for(lambda: line in inst.log_text(), 15), inst.log_text()[-2000:]
    assert f"tern-sandbox-probe pid={pid}" not in inst.log_text()
    # the next session works
    conn2, pid2 = session_of(inst, f"{proto}-mail", login)
    assert_sandboxed(pid2, f"{proto} session")


def dir_fds(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += stat.S_ISDIR(os.stat(f"/proc/{pid}/fd/{fd}").st_mode)
        except OSError:
            pass
    return n


def imap_idle(inst, parks):
    """A session of box in IDLE on INBOX, parked (the parks-th time)."""
    s = imap_login(inst)
    f = s.makefile("rb")
    s.sendall(b"s SELECT INBOX\r\ni IDLE\r\n")
    lines = []
    while not lines or not lines[-1].startswith(b"+"):
        lines.append(f.readline())
        assert lines[-1], lines
    assert any(l.endswith(b" EXISTS\r\n") for l in lines), lines   # HELD and others'
    parked = "imap parked: user=box@example.test "
    assert wait_for(lambda: inst.log_text().count(parked) >= parks, 15), inst.log_text()[-2000:]
    return s, f


def test_the_idle_holder_cannot_open_a_message_through_what_it_holds(inst):
    """The holder keeps O_PATH descriptors of a parked folder's new/ and
    cur/: an open of a message through them is a system call outside its
    seccomp list (killed, restarted; the parked client sees its connection
    end). Sanitizer builds allow openat for their reports: there Landlock,
    which grants the holder no path, refuses it."""
    parks = inst.log_text().count("imap parked: user=box@example.test ")
    s, f = imap_idle(inst, parks + 1)
    holder = status(inst)["imapd-idle"]
    assert wait_for(lambda: dir_fds(holder) >= 2, 10), "the holder holds no folder"
    os.kill(holder, signal.SIGWINCH)
    probe = f"tern-sandbox-probe pid={holder} held:{HELD}: "
    assert wait_for(lambda: gone(holder) or probe in inst.log_text(), 15)
    log = inst.log_text()
    assert probe + "allowed" not in log, log[-2000:]
    if gone(holder):
        line = f"imapd-idle: pid={holder} killed by SIGSYS"
        assert wait_for(lambda: line in inst.log_text(), 15), inst.log_text()[-2000:]
        assert probe not in inst.log_text()     # killed at the open, before it returned
        s.settimeout(10)
        assert f.readline() == b""  # the kernel closed the connection it held
        assert wait_for(lambda: status(inst).get("imapd-idle", holder) != holder, 20)
        assert_sandboxed(status(inst)["imapd-idle"], "imapd-idle")
        s.close()
        s, f = imap_idle(inst, parks + 2)   # parks with the new holder
    else:
        refused = [l for l in log.splitlines() if probe in l]
        assert refused and all("refused (Permission denied)" in l for l in refused), refused
    s.sendall(b"DONE\r\n")
    assert f.readline().startswith(b"i OK"), "the parked session did not resume"
    s.close()


@pytest.mark.skipif(not IS_ROOT, reason="the instance of another user needs root to make")
def test_an_ordinary_users_instance_is_sandboxed_too(tmp_parent):
    owner = os.path.join(tmp_parent, "user")
    os.mkdir(owner)
    os.chown(owner, pwd.getpwnam("nobody").pw_uid, -1)
    prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    inst = Instance(owner)
    inst.prefix = prefix
    env = probe_env()

    def ctl(*args, **kw):
        return mailctl("-c", inst.dir, *args, prefix=prefix, env=env, **kw)
    mailctl("init", inst.dir, "--domain", "example.test", "--port-base", str(inst.port_base),
            prefix=prefix)
    ctl("start")
    try:
        st = status(inst, ctl)
        uid = pwd.getpwnam("nobody").pw_uid
        for role in ROLES:
            assert role in st, st
            assert_sandboxed(st[role], role)
            assert proc_status(st[role])["Uid"].split()[0] == str(uid)
        kill_and_restart(inst, "smtpd", ctl)
    finally:
        ctl("stop", check=False)
