"""An IMAP client that vanishes without a FIN or a reset (a phone losing its
network) stops holding a session within dead_client_timeout, over plain TCP,
STARTTLS and IMAPS: with max_sessions_per_user = 1 the user can log in again
from the new network instead of getting BYE [LIMIT] until the 30-minute idle
timeout. Server and client in two network namespaces joined by a veth pair
whose client end is taken down."""
import imaplib
import shutil
import ssl
import time

import pytest

from conftest import IS_ROOT, Instance
from netns import Netns, veth

pytestmark = pytest.mark.skipif(not (IS_ROOT and shutil.which("ip")),
                                reason="needs root (network namespaces) and ip")

SERVER, CLIENT = "192.0.2.1", "192.0.2.2"
USER, PASSWORD = "ivan@example.test", "Ivan-pw-12345"


@pytest.fixture
def net():
    s, c = Netns("is", []), Netns("ic", [])
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
    i.set_conf("imapd", "plaintext_auth_networks", "192.0.2.0/24")
    i.set_conf("imapd", "dead_client_timeout", "3s")
    i.set_conf("imapd", "max_sessions_per_user", "1")
    i.add_user(USER, PASSWORD)
    i.start()
    yield i
    i.stop()


def session(port, mode, cafile):
    """A logged-in IMAP session with INBOX selected, or the error it got."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    if mode == "imaps":
        m = imaplib.IMAP4_SSL(SERVER, port, ssl_context=ctx, timeout=10)
    else:
        m = imaplib.IMAP4(SERVER, port, timeout=10)
        if mode == "starttls":
            m.starttls(ctx)
    try:
        m.login(USER, PASSWORD)
        m.select("INBOX")
    except (imaplib.IMAP4.error, OSError) as e:
        return e
    return m


@pytest.mark.parametrize("mode", ["plain", "starttls", "imaps"])
def test_vanished_client_frees_its_session(inst, net, mode):
    _, c, (_, end_c) = net
    port = inst.port("imaps" if mode == "imaps" else "imap")
    m = c.run(session, port, mode, inst.cert())
    assert isinstance(m, imaplib.IMAP4), m
    second = c.run(session, port, mode, inst.cert())
    assert not isinstance(second, imaplib.IMAP4), "max_sessions_per_user = 1 let a second session in"
    c.ip("link", "set", end_c, "down")       # no FIN, no reset: the phone is gone
    time.sleep(3 + 4)                        # dead_client_timeout and some slack
    c.ip("link", "set", end_c, "up")         # back, as a new connection would be
    again = c.run(session, port, mode, inst.cert())
    assert isinstance(again, imaplib.IMAP4), f"the vanished session still counts: {again}"
    again.logout()
    m.sock.close()
