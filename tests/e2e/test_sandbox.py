"""Sandboxing (issue 19): every long-running role runs under its seccomp
allow-list (Seccomp: 2, NoNewPrivs: 1), as root and as an ordinary user. A
system call outside the list kills the process (SIGSYS); the master logs it
naming the role and restarts it as for any crash. A POP3 or IMAP session
process is confined the same way, its mail role logs the kill, and it cannot
reach queue.sock (it may not make a stream socket).

The test hook is build/tests/sandbox_probe.so (tests/sandbox_probe.c),
preloaded into the instance's processes: SIGUSR2 makes a process attempt
execve, SIGUSR1 the action named in TERN_SANDBOX_PROBE. The binaries under
test carry no hook of their own."""
import os
import poplib
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest

from conftest import IS_ROOT, TERN_BIN, Instance, mailctl, wait_for
from conftest import proc_children as children, proc_gone as gone

PROBE = os.path.normpath(os.path.join(TERN_BIN, "..", "tests", "sandbox_probe.so"))
ROLES = ["authd", "queued", "deliverd-local", "deliverd-sts", "deliverd-remote", "pop3d-mail",
         "imapd-idle", "imapd-mail", "httpd-mail", "smtpd", "pop3d", "imapd", "httpd"]
PASSWORD = "Sandbox-pw-1"


def probe_env(action=""):
    return dict(os.environ, LD_PRELOAD=PROBE, TERN_SANDBOX_PROBE=action)


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
        i.add_user("box@example.test", PASSWORD)
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
