"""A real tern instance for the IMAP tests: `mailctl init`, `mailctl start`
(tern-authd, both tern-imapd roles, smtpd, queued, deliverd under the master),
users made with `mailctl user add`, mail delivered over SMTP (smtpd -> queued
-> deliverd, into new/) or APPENDed over IMAP.

One instance serves a whole test module; each test gets a fresh user of its
own, so tests share the daemons but never a mailbox.
"""
import imaplib
import itertools
import os
import pwd
import smtplib
import ssl
import tempfile
import time
import shutil
import socket

from conftest import Instance, IS_ROOT, wait_for


def chown_vmail(path):
    """Files made by the test itself (as another Maildir tool would) belong
    to the mail store account, as deliverd's do."""
    if not IS_ROOT:
        return
    pw = pwd.getpwnam("tern-vmail")
    for root, dirs, files in os.walk(path):
        for p in [root] + [os.path.join(root, f) for f in files]:
            try:
                os.chown(p, pw.pw_uid, pw.pw_gid)
            except FileNotFoundError:
                pass  # a running session moved it (new/ -> cur/) meanwhile


def tls_ctx(cert):
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False  # the certificate names the host, we dial 127.0.0.1
    return ctx


class ImapInstance:
    """A started instance; imapd_conf: extra imapd.conf settings, confs:
    {"NAME": {key: value}} for any other NAME.conf; prefix: a command mailctl
    runs under (userns.py)."""

    _users = itertools.count(1)
    # whose leaks the sanitizer report counts (see sanitizer_report)
    LEAK_DAEMONS = ("tern-imapd",)

    def __init__(self, imapd_conf=None, confs=None, prefix=()):
        self.parent = tempfile.mkdtemp(prefix="tern-imap-")
        os.chmod(self.parent, 0o755)
        self.inst = Instance(self.parent)
        try:
            self.inst.init()
            # the wrong-password tests need no slowing down
            self.inst.set_conf("authd", "failure_delay", "0s")
            for k, v in (imapd_conf or {}).items():
                self.inst.set_conf("imapd", k, v)
            for name, settings in (confs or {}).items():
                for k, v in settings.items():
                    self.inst.set_conf(name, k, v)
            self.inst.prefix = prefix  # mailctl (and so every daemon) runs under it
            self.inst.start()
        except BaseException:
            self.close()
            raise

    @property
    def dir(self):
        return self.inst.dir

    @property
    def imap_port(self):
        return self.inst.port("imap")

    @property
    def imaps_port(self):
        return self.inst.port("imaps")

    def cert(self):
        return self.inst.cert()

    def ctl(self, *args, **kw):
        return self.inst.ctl(*args, **kw)

    def new_user(self, quota=None):
        """A fresh user (Maildir and special-use folders made by mailctl)."""
        n = next(self._users)
        user, pw = f"user{n}@example.test", f"Pw-{n}-secret"
        self.inst.add_user(user, pw)
        if quota is not None:
            self.ctl("user", "quota", user, str(quota))
        return user, pw

    def maildir(self, user, folder=None):
        base = self.inst.maildir(user)
        return base if not folder else os.path.join(base, "." + folder)

    def queue_empty(self):
        return self.ctl("queue", "list").stdout.strip() == ""

    def smtp_send(self, rcpt, messages, sender="sender@remote.test", wait=True):
        """Send messages to rcpt over SMTP (port 25, local delivery), one
        after the other: with wait, each is in the Maildir before the next
        is sent, so UIDs follow the order given."""
        with smtplib.SMTP("127.0.0.1", self.inst.port("smtp"), timeout=30) as s:
            for m in messages:
                s.sendmail(sender, [rcpt], m)
                if wait:
                    assert wait_for(self.queue_empty, 30), \
                        "not delivered:\n" + self.log_text()[-3000:]

    def append(self, user, pw, messages, folder="INBOX", flags=None):
        """APPEND messages (byte-exact, into cur/) in a session of their own."""
        c = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=tls_ctx(self.cert()),
                              timeout=20)
        try:
            assert c.login(user, pw)[0] == "OK"
            for m in messages:
                typ, data = c.append(folder, flags, None, m)
                assert typ == "OK", data
        finally:
            c.logout()

    def restart(self):
        self.inst.stop()
        self.inst.start()

    def log_text(self):
        return self.inst.log_text()

    def sanitizer_report(self):
        """Sanitizer findings the daemons wrote (the master sends their
        stderr to the log): every memory error or undefined behaviour, and
        leaks of LEAK_DAEMONS (the other daemons' exit-time leaks are their own
        tests' business). LeakSanitizer cannot run in a chrooted process (no
        /proc there): that is not a finding."""
        findings, block = [], None
        for line in self.log_text().splitlines():
            if "ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line:
                block = [line]
            elif block is not None:
                block.append(line)
                if "SUMMARY:" in line:
                    findings.append(block)
                    block = None
            elif "runtime error:" in line:
                findings.append([line])
        if block:
            findings.append(block)
        findings = ["\n".join(b) for b in findings
                    if "LeakSanitizer" not in b[0] or any(d in l for l in b for d in self.LEAK_DAEMONS)]
        return "\n".join(findings)[-8000:] if findings else None

    def close(self):
        try:
            self.inst.stop()
            report = self.sanitizer_report()
            assert report is None, f"sanitizer report:\n{report}"
        finally:
            shutil.rmtree(self.parent, ignore_errors=True)


class Mailbox:
    """One test's user on a shared instance: what the tests call `server`."""

    def __init__(self, inst, quota=None):
        self.inst = inst
        self.user, self.pw = inst.new_user(quota)

    def __getattr__(self, name):  # ports, cert(), dir, ctl(), restart(), log_text() ...
        return getattr(self.inst, name)

    def maildir(self, user=None, folder=None):
        return self.inst.maildir(user or self.user, folder)

    def deliver(self, *messages, user=None, wait=True):
        """Real delivery over SMTP into new/ (the messages are \\Recent for
        the next session; smtpd and deliverd add their trace headers)."""
        self.inst.smtp_send(user or self.user, messages, wait=wait)

    def append(self, *messages, folder="INBOX", flags=None):
        self.inst.append(self.user, self.pw, messages, folder, flags)


class RawImap:
    """A raw IMAPS connection: bytes in, lines out, for the tests that check
    the exact form of responses."""

    def __init__(self, srv, login=True):
        plain = socket.create_connection(("127.0.0.1", srv.imaps_port), timeout=10)
        self.s = tls_ctx(srv.cert()).wrap_socket(plain)
        self.buf = b""
        self.greeting = self.line()
        self.n = 0
        if login:
            ok = self.cmd(b"LOGIN " + srv.user.encode() + b" " + srv.pw.encode())[-1]
            assert b" OK " in ok, ok

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def until_tag(self, tag):
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if l.startswith(tag + b" "):
                return lines

    def cmd(self, text):
        """Send one command with a fresh tag: every line up to the tagged one."""
        self.n += 1
        self.tag = b"t%d" % self.n
        self.send(self.tag + b" " + text + b"\r\n")
        return self.until_tag(self.tag)

    def ok(self, text):
        """cmd() that must succeed: the untagged lines."""
        lines = self.cmd(text)
        assert lines[-1].startswith(self.tag + b" OK"), (text, lines)
        return lines[:-1]

    def close(self):
        try:
            self.cmd(b"LOGOUT")
        except (OSError, EOFError):
            pass
        self.s.close()


def idle_wait(raw, pred, timeout=10):
    """Read untagged lines during IDLE until pred(line) (bounded)."""
    raw.s.settimeout(timeout)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        l = raw.line()
        seen.append(l)
        if pred(l):
            return seen
    raise AssertionError(f"IDLE: nothing matched in {seen}")
