"""Every daemon at its descriptor limit (issue 19, "one listener helper"):
accept() failing with EMFILE leaves the connection pending, so accepting again
at once would spin. Each daemon pauses its listener, logs one line for the
burst, keeps serving, and answers the waiting and new clients once
descriptors free up. The instance runs with RLIMIT_NOFILE lowered for every
role (the daemons cannot raise it past the hard limit); a test opens more
connections than the role has descriptors. Before the shared helper imapd
had no error callback: libevent retried accept() at once, 100% CPU for as
long as the limit lasted; smtpd and pop3d logged a line every second."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

import ternipc
from conftest import Instance, wait_for

NOFILE = 80
CLIENTS = 100
TICKS = os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def inst():
    parent = tempfile.mkdtemp(prefix="tern-fdlimit-")
    os.chmod(parent, 0o755)
    i = Instance(parent)
    try:
        i.init()
        for conf in ("imapd", "pop3d", "smtpd"):
            i.set_conf(conf, "max_sessions_per_ip", "1000")
        i.set_conf("imapd", "plaintext_auth_networks", "127.0.0.0/8")	# a LOGIN to hand off
        i.prefix = ("prlimit", f"--nofile={NOFILE}:{NOFILE}")
        i.start()
        i.prefix = ()
        yield i
    finally:
        i.stop()
        shutil.rmtree(parent, ignore_errors=True)


def pid_of(inst, role):
    for line in inst.ctl("status").stdout.splitlines():
        name, pid, _, state = line.split()
        if name == role and state == "running":
            return int(pid)
    raise AssertionError(f"{role} not running")


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])	# utime + stime


def answer(port, hello):
    """The first bytes a fresh client gets, or b"" if none within 10 s."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        if hello:
            c.sendall(hello)
        try:
            return c.recv(64)
        except OSError:
            return b""


@pytest.mark.parametrize("role,listener,hello,expect", [
    ("imapd", "imap", None, b"* OK"),
    ("pop3d", "pop3", None, b"+OK"),
    ("smtpd", "smtp", None, b"220"),
    ("httpd", "http", b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1."),
])
def test_at_fd_limit_pauses_then_answers(inst, role, listener, hello, expect):
    pid = pid_of(inst, role)
    assert f"{NOFILE}" in open(f"/proc/{pid}/limits").read().split("Max open files")[1].split("\n")[0]
    start = len(inst.log_text())
    port = inst.port(listener)
    conns = []
    try:
        for _ in range(CLIENTS):
            conns.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(1)		# the role accepts until it runs out of descriptors
        before = cpu_ticks(pid)
        time.sleep(2)
        spent = (cpu_ticks(pid) - before) / TICKS
        assert spent < 0.5, f"{role} used {spent:.2f} s of CPU in 2 s at its fd limit"
        log = inst.log_text()[start:]
        assert log.count(f"{listener}: accept: Too many open files; pausing") == 1, log[-2000:]
        assert f"{listener}: accepting again" not in log
    finally:
        for c in conns:
            c.close()
    # Descriptors free again: a new client is answered, the burst's end logged.
    t0 = time.monotonic()
    assert answer(port, hello).startswith(expect)
    assert time.monotonic() - t0 < 5
    assert wait_for(lambda: f"{listener}: accepting again" in inst.log_text()[start:], 10)
    assert pid_of(inst, role) == pid	# the same process, never restarted


def lowest_free_fd(pid):
    used = {int(n) for n in os.listdir(f"/proc/{pid}/fd")}
    return next(n for n in range(len(used) + 1) if n not in used)


def set_nofile(pid, soft):
    """prlimit on pid as its own account when it has another one: the
    suite's root may lack CAP_SYS_RESOURCE (containers drop it), which
    prlimit needs for a process of another uid."""
    ids = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, rest = line.partition(":")
        if key in ("Uid", "Gid"):
            ids[key] = rest.split()[0]
    cmd = ["prlimit", "--pid", str(pid), f"--nofile={soft}:{NOFILE}"]
    if int(ids["Uid"]) != os.getuid():
        cmd = ["setpriv", f"--reuid={ids['Uid']}", f"--regid={ids['Gid']}", "--clear-groups"] + cmd
    subprocess.run(cmd, check=True)


def at_fd_limit(inst, pid, sock, name, max_cpu):
    """Lower pid's soft limit to its lowest free descriptor (the next
    accept() is EMFILE), connect one client to the Unix socket sock, and
    check that the process neither spins nor logs more than one line for the
    burst; the limit is restored and the client gone on return. The offset of
    the log where the burst started is returned."""
    start = len(inst.log_text())
    low = lowest_free_fd(pid)
    set_nofile(pid, low)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        c.connect(sock)
        time.sleep(0.5)
        before = cpu_ticks(pid)
        time.sleep(2)
        spent = (cpu_ticks(pid) - before) / TICKS
        assert spent < max_cpu, f"{name} used {spent:.2f} s of CPU in 2 s at its fd limit"
        log = inst.log_text()[start:]
        assert log.count(f"{name}: accept: Too many open files; pausing") == 1, log[-2000:]
        assert f"{name}: accepting again" not in log
    finally:
        c.close()
        set_nofile(pid, NOFILE)
    return start


def test_master_control_socket_at_fd_limit(inst):
    """The master polls its control socket itself (no libevent listener):
    out of descriptors, poll() kept saying the socket was readable and
    accept() failed at once, a busy loop for as long as the limit lasted
    (before the accept gate: 0.39 s of CPU in 2 s on a loaded 2-core machine,
    all the scheduler gave it, and no log line). Now the socket is left
    out of poll() for the pause, one line is logged, and `mailctl status` is
    answered once descriptors are back."""
    run = os.path.join(inst.dir, "run")
    mpid = int(open(os.path.join(run, "master.pid")).read())
    start = at_fd_limit(inst, mpid, os.path.join(run, "master.sock"), "master.sock", 0.2)
    r = inst.ctl("status")
    assert r.returncode == 0 and "smtpd" in r.stdout, r.stdout + r.stderr
    assert wait_for(lambda: "master.sock: accepting again" in inst.log_text()[start:], 10)


def imap_login_ok(inst):
    """A login over IMAP, which the login process hands to the mail role."""
    with socket.create_connection(("127.0.0.1", inst.port("imap")), timeout=10) as c:
        f = c.makefile("rwb")
        assert f.readline().startswith(b"* OK")
        f.write(b"a LOGIN fd@example.test secret-fd\r\nb SELECT INBOX\r\nc LOGOUT\r\n")
        f.flush()
        text = b"".join(iter(f.readline, b""))
    return b"b OK" in text, text


def test_imap_mail_handoff_socket_at_fd_limit(inst):
    """The IMAP mail role polls its hand-off socket (and the URLAUTH one)
    itself, as the master does: out of descriptors it pauses, logs one
    line, and takes the next hand-off once descriptors are back (a login
    then SELECT works, served by the same process)."""
    inst.add_user("fd@example.test", "secret-fd")
    pid = pid_of(inst, "imapd-mail")
    sock = os.path.join(inst.dir, "run", "imap-mail.sock")
    start = at_fd_limit(inst, pid, sock, "imap mail hand-off", 0.2)
    ok, text = imap_login_ok(inst)
    assert ok, text
    assert wait_for(lambda: "imap mail hand-off: accepting again" in inst.log_text()[start:], 10)
    assert pid_of(inst, "imapd-mail") == pid


def test_mta_sts_fetcher_at_fd_limit(inst):
    """The MTA-STS fetcher blocks in accept(): out of descriptors it sleeps
    out the pause instead of retrying at once, logs one line, and serves
    the next connection once descriptors are back (a malformed query is
    answered by closing, with its log line)."""
    pid = pid_of(inst, "deliverd-sts")
    sock = os.path.join(inst.dir, "run", "sts.sock")
    start = at_fd_limit(inst, pid, sock, "mta-sts", 0.2)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(sock)
        c.sendall(ternipc.Msg(99).u32(1).encode())
        assert c.recv(64) == b""	# served: refused and closed, not left waiting
    log = lambda: inst.log_text()[start:]
    assert wait_for(lambda: "mta-sts: accepting again" in log(), 10)
    assert wait_for(lambda: "mta-sts: malformed query" in log(), 10)
    assert pid_of(inst, "deliverd-sts") == pid


URLFETCH_REQ, URLFETCH_RES = 320, 321	# common/urlfetch.h


def test_urlauth_socket_at_fd_limit(inst):
    """The mail role's URLAUTH socket, in the same poll loop as the hand-off
    socket with a gate of its own: it pauses and logs alone, then answers
    the next fetch (an unknown URL: "no such URL", not silence)."""
    pid = pid_of(inst, "imapd-mail")
    sock = os.path.join(inst.dir, "run", "imap-urlauth.sock")
    start = at_fd_limit(inst, pid, sock, "urlauth", 0.2)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(sock)
        req = ternipc.Msg(URLFETCH_REQ).str("imap://nobody").u32(0).str("fd@example.test")
        c.sendall(req.encode())
        head = c.recv(12)
        assert len(head) == 12 and int.from_bytes(head[4:6], "big") == URLFETCH_RES, head
    assert wait_for(lambda: "urlauth: accepting again" in inst.log_text()[start:], 10)
    assert "imap mail hand-off: accept" not in inst.log_text()[start:]
    assert pid_of(inst, "imapd-mail") == pid
