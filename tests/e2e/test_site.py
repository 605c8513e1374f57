"""A site of several hosts (issue 16, docs/SCALING.md): what a front-end
knows of its mailbox hosts. `mailctl status` on a front-end adds one line per
mailbox host saying whether it answers on its internal port, trying them all
at once within a bounded time."""
import os
import shutil
import socket
import tempfile
import threading
import time

import pytest

from conftest import Instance


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
