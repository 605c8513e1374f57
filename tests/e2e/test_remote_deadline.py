"""deliverd's SMTP client has an overall deadline (issue 19 item 11): a server
that answers one byte at a time, each well inside the per-read timeout (300 s
for a reply), held a delivery for ever. With smtp_deadline the session (and
each message) ends when the deadline passes and the mail is deferred."""
import os
import socket
import threading
import time

import pytest

from conftest import wait_for
from queue_env import QueueEnv, ensure_accounts


class Dripper:
    """A listener that greets one byte every half second, for ever."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.conns = 0
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        self.sock.settimeout(0.5)
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.conns += 1
            threading.Thread(target=self.drip, args=(c,), daemon=True).start()

    def drip(self, c):
        line = b"220-slow.example greeting " + b"." * 60 + b"\r\n"
        try:
            while not self.stop.is_set():
                for b in line:
                    c.sendall(bytes([b]))
                    time.sleep(0.5)
        except OSError:
            pass
        c.close()

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.fixture
def env(tmp_parent):
    ensure_accounts(["tern-queued", "tern-vmail", "tern-auth", "tern-deliverd"])
    d = Dripper()
    e = QueueEnv(tmp_parent, name="a", hostname="mx.a.test", domain="a.test",
                 deliverd_conf={"relayhost": f"[127.0.0.1]:{d.port}", "smtp_deadline": "10s"})
    e.add_user("alice@a.test")
    e.start()
    e._spawn("remote", [os.path.join(os.environ["TERN_BIN"], "tern-deliverd"), "-c", e.dir,
                        "--remote"])
    assert wait_for(lambda: "connected to queued as the remote delivery agent" in e.log_text(), 20)
    yield e
    e.stop()
    d.close()


def test_a_dripping_server_is_given_up_at_the_deadline(env):
    start = time.monotonic()
    env.sendmail("bob@far.test", input="Subject: slow\n\nhello\n")
    assert env.wait_log("took longer than the delivery deadline (smtp_deadline)", 40), \
        env.log_text()[-2000:]
    assert time.monotonic() - start < 30
    assert env.wait_log("status=deferred", 10)
    assert len(env.queue_list()) == 1		# still queued, to retry
