"""A client that pipelines cheap commands and never reads the replies must not
grow the server (issue 19 item 10): each protocol stops taking commands while
more than a few kB of replies wait, so its input buffer fills, the kernel's
buffers fill and the client is stopped. Before, 80 MB of `EHLO x` grew smtpd
to 2 GB. Each case sends up to 4 MB of a command whose reply is 10-30 times
longer, then checks the serving process grew by less than 8 MB (it grew by
32-230 MB before; a few hundred kB after)."""
import os
import select
import socket
import tempfile
import shutil
import time

import pytest

from conftest import Instance, proc_children as children, wait_for

FLOOD = 4 << 20
BOUND_KB = 8 * 1024
PASSWORD = "Flood-pw-123"


@pytest.fixture(scope="module")
def inst():
    parent = tempfile.mkdtemp(prefix="tern-flood-")
    os.chmod(parent, 0o755)
    i = Instance(parent)
    try:
        i.init()
        i.set_conf("imapd", "plaintext_auth_networks", "127.0.0.0/8, ::1")
        i.set_conf("authd", "failure_delay", "0s")
        # Under ASan freed memory waits in a quarantine (up to 256 MB), which
        # would count here as growth; keep it small so RSS shows what is held.
        saved = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = (saved or "") + ":quarantine_size_mb=4"
        try:
            i.start()
        finally:
            if saved is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = saved
        i.add_user("flood@example.test", PASSWORD)
        yield i
    finally:
        i.stop()
        shutil.rmtree(parent, ignore_errors=True)


def pids(inst, name):
    out = []
    for line in inst.ctl("status").stdout.splitlines():
        n, pid, _, _ = line.split()
        if n == name:
            out.append(int(pid))
    return out


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connect(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    s.recv(4096)		# the greeting
    return s


def login_imap(s):
    s.sendall(f"l LOGIN flood@example.test {PASSWORD}\r\n".encode())
    got = b""
    while b"l OK" not in got:
        data = s.recv(4096)
        assert data, got
        got += data


def flood(s, line, stall=1.5):
    """Send line over and over without reading, up to FLOOD bytes or until the
    server has stopped taking them for `stall` seconds; bytes sent."""
    s.setblocking(False)
    chunk = line * (65536 // len(line))
    sent = 0
    while sent < FLOOD:
        _, w, _ = select.select([], [s], [], stall)
        if not w:
            break
        try:
            sent += s.send(chunk[: FLOOD - sent])
        except BlockingIOError:
            continue
    return sent


def check_bounded(pid_fn, s, line):
    pid = pid_fn()
    before = rss_kb(pid)
    sent = flood(s, line)
    time.sleep(1)		# what was read is processed
    grown = rss_kb(pid) - before
    s.close()
    assert grown < BOUND_KB, f"grew {grown} kB after {sent} bytes of {line!r}"


def test_smtpd(inst):
    s = connect(inst.port("smtp"))
    check_bounded(lambda: pids(inst, "smtpd")[0], s, b"EHLO x\r\n")


def test_pop3d_login(inst):
    s = connect(inst.port("pop3"))
    check_bounded(lambda: pids(inst, "pop3d")[0], s, b"CAPA\r\n")


def test_imapd_login(inst):
    s = connect(inst.port("imap"))
    check_bounded(lambda: pids(inst, "imapd")[0], s, b"a CAPABILITY\r\n")


def test_imapd_session(inst):
    mail = pids(inst, "imapd-mail")[0]
    old = set(children(mail))
    s = connect(inst.port("imap"))
    login_imap(s)
    assert wait_for(lambda: set(children(mail)) - old, 10)
    [session] = set(children(mail)) - old
    check_bounded(lambda: session, s, b"a CAPABILITY\r\n")
