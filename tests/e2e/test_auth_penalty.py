"""Authentication penalties through a whole instance, with clients at two real
source addresses (a network namespace whose loopback carries them): a user
attacked from several addresses is slowed for every one of them, never locked
out, and the state survives an authd restart by the master."""
import base64
import os
import shutil
import smtplib
import time

import pytest

from conftest import IS_ROOT, wait_for
from netns import Netns

pytestmark = pytest.mark.skipif(not (IS_ROOT and shutil.which("ip")),
                                reason="needs root (network namespace) and ip")

A, B = "192.0.2.41", "192.0.2.42"
USER, PASSWORD = "dave@example.test", "Dave-pw-12345"


@pytest.fixture(scope="module")
def ns():
    n = Netns("pen", [A, B])
    yield n
    n.delete()


@pytest.fixture
def inst(new_instance, ns):
    i = new_instance()
    i.init()
    i.prefix = ns.prefix
    i.set_conf("smtpd", "plaintext_auth_networks", "192.0.2.0/24")
    i.set_conf("smtpd", "max_sessions_per_ip", "1000")
    for k, v in (("failure_delay", "300ms"), ("max_failure_delay", "2400ms"),
                 ("max_failures", "20"), ("user_max_failures", "2")):
        i.set_conf("authd", k, v)
    i.add_user(USER, PASSWORD)
    i.start()
    yield i
    i.stop()


def auth(port, source, password):
    """(SMTP reply code to AUTH PLAIN, seconds it took) from source."""
    with smtplib.SMTP(timeout=30, source_address=(source, 0)) as s:
        s.connect("127.0.0.1", port)
        s.ehlo("client.test")
        cred = base64.b64encode(f"\0{USER}\0{password}".encode()).decode()
        t0 = time.monotonic()
        code, _ = s.docmd("AUTH", "PLAIN " + cred)
        return code, time.monotonic() - t0


def authd_pid(inst):
    for line in inst.ctl("status").stdout.splitlines():
        f = line.split()
        if f and f[0] == "authd" and f[3] == "running":
            return int(f[1])
    return None


def test_user_slowed_from_a_second_address_and_after_restart(inst, ns):
    port = inst.port("submission")
    took_a = []
    for i in range(4):                                   # A: 0.3, 0.6, 1.2, 2.4 s
        code, t = ns.run(auth, port, A, f"wrong{i}")
        assert code == 535
        took_a.append(t)
    assert took_a[0] < took_a[1] < took_a[2], took_a
    # B never failed: its address penalty would be 0.3 s, but dave has failed
    # 4 times (2 free): this failure waits 0.3 * 2^2 = 1.2 s.
    code, t = ns.run(auth, port, B, "wrong-b")
    assert code == 535 and t >= 1.08, t
    # The real user is slowed only when wrong: the right password from B is
    # accepted at once, and even from A (no lockout for a user).
    code, t = ns.run(auth, port, B, PASSWORD)
    assert code == 235 and t < 1.0, t
    # The state survives an authd restart (the master starts a new one).
    old = authd_pid(inst)
    os.kill(old, 15)
    assert wait_for(lambda: authd_pid(inst) not in (None, old), 20)
    code, t = ns.run(auth, port, B, "wrong-b2")    # dave's 6th failure: 2.4 s
    assert code == 535 and t >= 2.1, t
    assert "(user slowed)" in inst.log_text()
