"""A site of several hosts (issue 16, docs/SCALING.md): what a front-end
knows of its mailbox hosts. `mailctl status` on a front-end adds one line per
mailbox host saying whether it answers on its internal port, trying them all
at once within a bounded time."""
import os
import shutil
import smtplib
import socket
import tempfile
import threading
import time

import pytest

from conftest import Instance, wait_for


class Greeter:
    """A mailbox host's internal port, as far as the probe sees it: greets
    (or not) each connection and records what the client says."""

    def __init__(self, greeting):
        self.greeting = greeting
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.heard = []
        self.conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.greeting is None:
                continue            # connected, never greets
            c.sendall(self.greeting)
            c.settimeout(5)
            try:
                self.heard.append(c.recv(100))
            except OSError:
                pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def frontend():
    parent = tempfile.mkdtemp(prefix="tern-site-")
    os.chmod(parent, 0o755)     # the daemons' accounts must reach their instance
    inst = Instance(parent)
    inst.init()
    path = os.path.join(inst.dir, "site.secret")   # check wants it on any role but both
    with open(path, "w") as f:
        f.write("site-secret-1234567890\n")
    os.chmod(path, 0o600)
    inst.set_conf("tern", "site_secret_file", "site.secret")
    yield inst
    inst.stop()
    shutil.rmtree(parent, ignore_errors=True)


def test_status_on_a_frontend_says_which_mailbox_hosts_answer(frontend):
    up = Greeter(b"220 mb1.example.test LMTP ready\r\n")
    refusing = Greeter(b"421 4.3.2 shutting down\r\n")
    silent = Greeter(None)
    gone = closed_port()
    inst = frontend
    try:
        inst.set_conf("tern", "role", "frontend")
        inst.set_conf("tern", "directory", "pgsql")
        # No server behind it: the directory connects lazily, and status
        # needs none.
        inst.set_conf("tern", "directory_pgsql", "host=127.0.0.1 port=9 dbname=tern")
        inst.set_conf("tern", "mailbox_hosts",
                      f"mb1=127.0.0.1:{up.port}, mb2=127.0.0.1:{gone}, "
                      f"mb3=127.0.0.1:{silent.port}, mb4=127.0.0.1:{refusing.port}")
        inst.start()
        t0 = time.monotonic()
        out = inst.ctl("status").stdout
        took = time.monotonic() - t0
        rows = {l.split()[1]: l for l in out.splitlines() if l.startswith("mailbox-host ")}
        assert rows["mb1"] == f"mailbox-host mb1 127.0.0.1:{up.port} answers", out
        assert rows["mb2"].startswith(f"mailbox-host mb2 127.0.0.1:{gone} down (Connection refused")
        assert rows["mb3"] == (f"mailbox-host mb3 127.0.0.1:{silent.port} down "
                               "(no greeting within 3s)"), out
        assert rows["mb4"] == (f"mailbox-host mb4 127.0.0.1:{refusing.port} down "
                               '(greets with "421 4.3.2 shutting down")'), out
        # The processes are listed as before, the hosts after them.
        assert out.splitlines()[0].split()[0] != "mailbox-host"
        # All at once: the silent host costs the deadline once, not per host.
        assert took < 8, took
        time.sleep(0.2)
        assert up.heard and up.heard[0] == b"QUIT\r\n", up.heard
    finally:
        for g in (up, refusing, silent):
            g.close()
        inst.stop()


def test_status_lists_no_mailbox_hosts_on_a_single_host(frontend):
    inst = frontend
    inst.set_conf("tern", "role", "both")
    inst.set_conf("tern", "directory", "bdb")
    inst.set_conf("tern", "mailbox_hosts", "")
    inst.start()
    try:
        out = inst.ctl("status").stdout
        assert "mailbox-host" not in out and "authd" in out, out
    finally:
        inst.stop()


def test_a_mailbox_host_keeps_mail_of_another_hosts_user_queued(frontend):
    """role = mailbox: a user whose mailbox host is another host is accepted
    but never stored here (nor bounced): directly or through an alias, the
    message waits in the queue for that host, while this host's own users
    get theirs. Its mailbox host is down (a closed port): the relay keeps
    it queued with the reason."""
    inst = frontend
    for k, v in {"role": "mailbox", "directory": "bdb", "mailbox_host_name": "mb1",
                 "mailbox_hosts": f"mb2=127.0.0.1:{closed_port()}"}.items():
        inst.set_conf("tern", k, v)
    inst.add_user("alice@example.test", "Alice-pw-1")
    inst.ctl("user", "add", "carol@example.test", "--host", "mb2", input="Carol-pw-1\n")
    inst.ctl("alias", "add", "crew@example.test", "alice@example.test,carol@example.test")
    inst.start()
    try:
        with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=20) as s:
            s.sendmail("x@sender.test", ["carol+news@example.test"],
                       b"Subject: direct\r\n\r\nto carol\r\n")
            s.sendmail("x@sender.test", ["crew@example.test"],
                       b"Subject: via alias\r\n\r\nto the crew\r\n")
        new = os.path.join(inst.maildir("alice@example.test"), "new")
        assert wait_for(lambda: len(os.listdir(new)) == 1, timeout=20)
        # carol's two copies (the direct one and the alias's forwarded one)
        # wait, deferred with the reason, and nothing is stored for her here.
        def carol_waits():
            out = inst.ctl("queue", "list").stdout
            return out.count("carol") == 2 and out
        out = wait_for(carol_waits, timeout=20)
        assert out, inst.ctl("queue", "list").stdout
        assert "carol+news@example.test" in out
        for line in out.splitlines():
            shown = inst.ctl("queue", "show", line.split()[0]).stdout
            assert "4.4.1" in shown and "mb2" in shown, shown
        carol = inst.maildir("carol@example.test")
        assert not any(os.listdir(os.path.join(carol, d)) for d in ("new", "cur", "tmp")
                       if os.path.isdir(os.path.join(carol, d)))
    finally:
        inst.stop()
