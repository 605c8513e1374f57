"""A private DNS server for the bench (dnsmasq on loopback, as the e2e
tests run it in tests/e2e/test_remote.py), so tern's smtpd checks SPF, DKIM
and DMARC on every message with answers that come back at once, as from a
local caching resolver. It serves the sender domain's SPF and DMARC records;
every other name is NXDOMAIN (no DKIM key: smtp-source signs nothing).

What smtpd asks, per message (counted with BENCH_DNS_LOG=1): the DMARC
record of the From domain. SPF needs no query here (libspf2 passes a
loopback client by its localhost rule) and there is no DKIM signature to
verify."""
import os
import socket
import subprocess
import time

from util import debug

DNSMASQ = "/usr/sbin/dnsmasq"


def records(sender_domain):
    return [f"--txt-record={sender_domain},v=spf1 ip4:127.0.0.0/8 -all",
            f"--txt-record=_dmarc.{sender_domain},v=DMARC1; p=none"]


class Dnsmasq:
    def __init__(self, port, recs, logdir):
        self.port = port
        self.proc = None
        args = [DNSMASQ, "-k", "--no-resolv", "--no-hosts", "--no-poll", f"--port={port}",
                "--listen-address=127.0.0.1", "--bind-interfaces", "--pid-file=",
                f"--log-facility={os.path.join(logdir, 'dnsmasq.log')}", "--address=/#/"]
        if os.environ.get("BENCH_DNS_LOG"):     # every query in dnsmasq.log (--keep to read it)
            args.append("--log-queries")
        if os.geteuid() == 0:
            args.append("--user=root")
        debug("$ " + " ".join(args + recs))
        self.proc = subprocess.Popen(args + recs, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not self.answers():
            self.stop()
            raise RuntimeError(f"dnsmasq did not answer on 127.0.0.1:{port}")

    def answers(self, timeout=10):
        """True once a query for the sender's TXT gets any reply (bounded)."""
        q = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x07example\x04test\x00\x00\x10\x00\x01")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(0.2)
            try:
                s.sendto(q, ("127.0.0.1", self.port))
                if s.recv(512)[:2] == b"\x12\x34":
                    return True
            except OSError:
                pass
            finally:
                s.close()
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
