"""A POP3 client that vanishes without a FIN or a reset (a phone losing its
network) frees the mailbox within dead_client_timeout, over plain TCP, STLS
and POP3S: the server in one network namespace, the client in another behind
a veth pair whose client end is then taken down. (A client that closes or
resets its connection frees it at once: test_pop3d.py.)"""
import os
import poplib
import shutil
import ssl
import time

import pytest

from conftest import IS_ROOT, Instance, wait_for
from netns import Netns, veth
from pop3env import maildir_deliver, pop3_lock_free

pytestmark = pytest.mark.skipif(not (IS_ROOT and shutil.which("ip")),
                                reason="needs root (network namespaces) and ip")

SERVER, CLIENT = "192.0.2.1", "192.0.2.2"
USER, PASSWORD = "erin@example.test", "Erin-pw-12345"


@pytest.fixture
def net():
    s, c = Netns("vs", []), Netns("vc", [])
    ends = veth(s, SERVER, c, CLIENT)
    yield s, c, ends
    s.delete()
    c.delete()


@pytest.fixture
def inst(tmp_parent, net):
    s, _, _ = net
    i = Instance(tmp_parent)
    i.init("--listen", SERVER)
    i.prefix = s.prefix
    i.set_conf("pop3d", "plaintext_auth_networks", "192.0.2.0/24")
    i.set_conf("pop3d", "dead_client_timeout", "3s")
    i.add_user(USER, PASSWORD)
    i.start()
    yield i
    i.stop()


def session(port, mode, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    if mode == "pop3s":
        p = poplib.POP3_SSL(SERVER, port, context=ctx, timeout=10)
    else:
        p = poplib.POP3(SERVER, port, timeout=10)
        if mode == "stls":
            p.stls(ctx)
    p.user(USER)
    p.pass_(PASSWORD)
    return p


@pytest.mark.parametrize("mode", ["plain", "stls", "pop3s"])
def test_vanished_client_frees_the_mailbox(inst, net, mode):
    _, c, (_, end_c) = net
    port = inst.port("pop3s" if mode == "pop3s" else "pop3")
    maildir_deliver(inst.maildir(USER), "Subject: kept\n\nstill here\n", f"M1P{os.getpid()}.vanish")
    p = c.run(session, port, mode, inst.cert())
    assert p.stat()[0] == 1
    p.dele(1)               # marked only: a session that never reaches QUIT deletes nothing
    assert not pop3_lock_free(inst.maildir(USER))
    c.ip("link", "set", end_c, "down")       # no FIN, no reset: the phone is gone
    t0 = time.monotonic()
    assert wait_for(lambda: pop3_lock_free(inst.maildir(USER)), 15, 0.1), "mailbox still locked after 15 s"
    took = time.monotonic() - t0
    assert took < 3 + 4, f"freed after {took:.1f}s (dead_client_timeout = 3s)"
    c.ip("link", "set", end_c, "up")
    again = c.run(session, port, mode, inst.cert())
    assert again.stat()[0] == 1
    again.quit()
    p.sock.close()
