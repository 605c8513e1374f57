"""IMAP's per-address limit and login deadline (issue 19 item 11; smtpd's
separate pools for port 25 and submission are test_smtpd.py's
test_max_sessions_total):
- imapd: connections not yet logged in are limited per client address
  (before, none), and login_timeout is a deadline from the connection: a
  client that sends a NOOP now and then is still closed (before, it was an
  inactivity timer and such a client stayed for ever)."""
import os
import shutil
import socket
import tempfile
import time

import pytest

from conftest import Instance, wait_for


@pytest.fixture(scope="module")
def inst():
    parent = tempfile.mkdtemp(prefix="tern-limits-")
    os.chmod(parent, 0o755)
    i = Instance(parent)
    try:
        i.init()
        i.set_conf("imapd", "max_sessions_per_ip", "3")
        i.set_conf("imapd", "login_timeout", "3s")
        i.start()
        yield i
    finally:
        i.stop()
        shutil.rmtree(parent, ignore_errors=True)


def greet(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    line = s.recv(4096)
    return s, line


def test_imap_connections_per_address(inst):
    held = [greet(inst.port("imap")) for _ in range(3)]
    assert all(line.startswith(b"* OK") for _, line in held)
    s, line = greet(inst.port("imap"))
    assert line.startswith(b"* BYE [UNAVAILABLE]"), line
    s.close()
    held.pop()[0].close()
    assert wait_for(lambda: greet(inst.port("imap"))[1].startswith(b"* OK"), 10)
    for s, _ in held:
        s.close()


def test_imap_login_deadline_is_not_an_inactivity_timer(inst):
    s, line = greet(inst.port("imap"))
    assert line.startswith(b"* OK")
    s.settimeout(1)
    start, got = time.monotonic(), b""
    while time.monotonic() - start < 12 and b"* BYE" not in got:
        try:
            s.sendall(b"n NOOP\r\n")
            got += s.recv(4096)
        except socket.timeout:
            pass
        except OSError:
            break
        time.sleep(0.5)
    assert b"* BYE Login timeout" in got, got
    assert time.monotonic() - start < 8
    s.close()
