"""A simulated ISP (issue 16, docs/SCALING.md): every host in a network
namespace of its own on one Ethernet segment (a bridge) the test creates.

    192.0.2.10  dir   PostgreSQL (the directory) and dnsmasq (MX records:
                      example.test -> fe1 at 10, fe2 at 20)
    192.0.2.11  fe1   front-end (role = frontend)
    192.0.2.12  fe2   front-end
    192.0.2.21  mb1   mailbox host of alice and carol (role = mailbox)
    192.0.2.22  mb2   mailbox host of bob and dave
    192.0.2.100 cl    the clients: Python's smtplib/imaplib/poplib, and a
                      tern instance of client.test whose deliverd follows the
                      MX records (the real MX-following sender)

The hosts share one port layout (port base 1000: SMTP 1025, IMAP 1143,
POP3 1110, the internal port 1024), as a site's hosts do. The module's
hosts are made once; each test leaves every host running. A host killed
with -9 is every process in its namespace."""
import http.client
import imaplib
import os
import poplib
import re
import shutil
import smtplib
import ssl
import tempfile
import threading
import time

import pytest

from conftest import IS_ROOT, Instance, proc_gone, wait_for
from jmap_harness import Jmap
from netns import Lan
from test_directory_pgsql import PG_BINS, Postgres, use_pgsql
from test_remote import DNSMASQ, Dns

pytestmark = pytest.mark.skipif(
    not (IS_ROOT and shutil.which("ip") and PG_BINS and os.path.exists(DNSMASQ)),
    reason="needs root (network namespaces), ip, PostgreSQL and dnsmasq (tools/deps.sh)")

BASE = 1000
ADDR = {"dir": "192.0.2.10", "fe1": "192.0.2.11", "fe2": "192.0.2.12",
        "mb1": "192.0.2.21", "mb2": "192.0.2.22", "cl": "192.0.2.100"}
HOME = {"alice": "mb1", "carol": "mb1", "bob": "mb2", "dave": "mb2"}
SECRET = "site-secret-isp-1234567890"
SMTP, IMAP, POP3 = BASE + 25, BASE + 143, BASE + 110


def pw(user):
    return f"{user}-Pw-1"


def addr(user):
    return f"{user}@example.test"


class Isp:
    def __init__(self, parent):
        self.lan = Lan("isp")
        self.pg = self.dns = self.client = None
        self.host = {}
        try:
            self.build(parent)
        except BaseException:
            self.close()            # the namespaces go even when a host did not start
            raise

    def build(self, parent):
        self.ns = {h: self.lan.host(h, a, workers=4 if h == "cl" else 1) for h, a in ADDR.items()}
        d = self.ns["dir"]
        self.pg = Postgres(parent, prefix=d.prefix, addr=ADDR["dir"], port=BASE + 432)
        self.dns = Dns(53, ["--mx-host=example.test,fe1.example.test,10",
                            "--mx-host=example.test,fe2.example.test,20",
                            f"--address=/fe1.example.test/{ADDR['fe1']}",
                            f"--address=/fe2.example.test/{ADDR['fe2']}"],
                       prefix=d.prefix, addr=ADDR["dir"])
        for h in ("mb1", "mb2", "fe1", "fe2"):
            self.host[h] = self.make(parent, h, f"{h}.example.test", "example.test")
            self.use_site(self.host[h])
        mb1 = self.host["mb1"]
        mb1.ctl("directory", "init")
        mb1.ctl("domain", "add", "example.test")
        for user, home in HOME.items():
            mb1.ctl("user", "add", addr(user), "--host", home, input=pw(user) + "\n")
        for h in ("mb1", "mb2"):
            conf = {"role": "mailbox", "mailbox_host_name": h,
                    "site_frontends": f"{ADDR['fe1']}/32, {ADDR['fe2']}/32"}
            for k, v in conf.items():
                self.host[h].set_conf("tern", k, v)
        for h in ("fe1", "fe2"):
            self.host[h].set_conf("tern", "role", "frontend")
            self.host[h].set_conf("tern", "mailbox_hosts",
                                  f"mb1={ADDR['mb1']}:{BASE + 24}, mb2={ADDR['mb2']}:{BASE + 24}")
        # The sender outside: its own domain, MX lookups at the ISP's DNS,
        # SMTP to port 1025 of whatever the MX records name.
        self.client = Instance(parent, domain="client.test", hostname="mx.client.test",
                               port_base=BASE)
        self.client.init("--listen", "127.0.0.1")
        self.client.prefix = self.ns["cl"].prefix
        self.client.set_conf("tern", "dns_server", f"{ADDR['dir']}:53")
        self.client.set_conf("deliverd", "smtp_port", str(SMTP))
        self.client.set_conf("queued", "minimal_backoff_time", "1s")
        self.client.set_conf("queued", "maximal_backoff_time", "2s")
        for inst in [*self.host.values(), self.client]:
            inst.start()

    def make(self, parent, name, hostname, domain):
        inst = Instance(parent, domain=domain, hostname=hostname, port_base=BASE)
        inst.init("--listen", ADDR[name])
        inst.prefix = self.ns[name].prefix
        inst.name = name
        return inst

    def use_site(self, inst):
        use_pgsql(inst.dir, self.pg)
        path = os.path.join(inst.dir, "site.secret")
        with open(path, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(path, 0o600)
        inst.set_conf("tern", "site_secret_file", "site.secret")
        inst.set_conf("tern", "dns_server", f"{ADDR['dir']}:53")
        inst.set_conf("smtpd", "trusted_networks", "127.0.0.0/8, 192.0.2.0/24")
        for d in ("imapd", "pop3d"):
            inst.set_conf(d, "plaintext_auth_networks", "192.0.2.0/24")
        inst.set_conf("queued", "minimal_backoff_time", "1s")
        inst.set_conf("queued", "maximal_backoff_time", "2s")

    def kill9(self, name):
        """The host loses power: every process of its namespace gets SIGKILL."""
        pids = self.ns[name].kill()
        assert pids, f"{name} had no processes"
        assert wait_for(lambda: all(proc_gone(p) for p in pids), timeout=20), pids
        self.host[name].started = False

    def restart(self, name):
        self.host[name].start()

    def flush(self):
        for h in ("fe1", "fe2"):
            if self.host[h].started:
                self.host[h].ctl("queue", "flush", check=False)

    def run(self, fn, *args):
        """fn(*args) on a thread in the client namespace."""
        return self.ns["cl"].run(fn, *args)

    def close(self):
        try:
            for inst in [self.client, *self.host.values()]:
                if inst is not None:
                    inst.stop()
            if self.dns:
                self.dns.stop()
            if self.pg:
                self.pg.close()
        finally:
            self.lan.delete()


@pytest.fixture(scope="module")
def isp():
    parent = tempfile.mkdtemp(prefix="tern-isp-")
    os.chmod(parent, 0o755)     # the daemons' accounts must reach their instances
    try:
        s = Isp(parent)
        try:
            yield s
        finally:
            s.close()
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def subjects(isp, user):
    """Subject of every message in the user's INBOX on their mailbox host
    (new and cur), one entry per file."""
    root = isp.host[HOME[user]].maildir(addr(user))
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(root, sub)
        for name in os.listdir(d) if os.path.isdir(d) else ():
            try:
                with open(os.path.join(d, name), "rb") as f:
                    head = f.read(8192).split(b"\r\n\r\n")[0].split(b"\n\n")[0]
            except FileNotFoundError:       # renamed new -> cur meanwhile
                continue
            for line in head.splitlines():
                if line.lower().startswith(b"subject:"):
                    out.append(line[8:].strip().decode())
    return out


def copies(isp, user, subject):
    """The files holding subject in the user's INBOX, with their trace
    fields (to tell a second relay from a second local delivery)."""
    root = isp.host[HOME[user]].maildir(addr(user))
    out = []
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(root, sub)):
            with open(os.path.join(root, sub, name), "rb") as f:
                lines = f.read(8192).replace(b"\r\n", b"\n").split(b"\n\n")[0].split(b"\n")
            if f"Subject: {subject}".encode() in lines:     # stored with LF or CRLF
                out.append((name, [l for l in lines if l[:1] in (b" ", b"\t")
                                   or l.startswith(b"Received")]))
    return out


def arrived(isp, user, subject, n=1):
    return wait_for(lambda: subjects(isp, user).count(subject) >= n, timeout=60)


def smtp_send(fe, rcpts, subject):
    """One transaction from the client namespace to front-end fe; returns
    (code, text) of the first refusal or of DATA."""
    with smtplib.SMTP(ADDR[fe], SMTP, timeout=30) as s:
        s.ehlo("client.test")
        code, text = s.mail("sender@client.test")
        if code != 250:
            return code, text
        for r in rcpts:
            code, text = s.rcpt(r)
            if code != 250:
                return code, text
        return s.data(f"Subject: {subject}\r\n\r\nbody of {subject}\r\n".encode())


def send(isp, fe, rcpts, subject):
    code, text = isp.run(smtp_send, fe, rcpts, subject)
    if code != 250:
        print(isp.host[fe].log_text()[-6000:])
    assert code == 250, (fe, code, text)


def imap_inbox(fe, user):
    """LOGIN at front-end fe and SELECT INBOX: the SUBJECTs it holds, or
    the imaplib error."""
    m = imaplib.IMAP4(ADDR[fe], IMAP, timeout=30)
    try:
        m.login(addr(user), pw(user))
        typ, data = m.select("INBOX")
        assert typ == "OK", data
        n = int(data[0])
        typ, data = m.fetch(f"1:{n}", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])") if n else ("OK", [])
        got = [p[1].decode().split(":", 1)[1].strip() for p in data if isinstance(p, tuple)]
        m.logout()
        return got
    except imaplib.IMAP4.error as e:
        return e
    finally:
        try:
            m.shutdown()
        except OSError:
            pass


def pop3_count(fe, user):
    """USER/PASS at front-end fe: the maildrop's message count, or the error."""
    p = poplib.POP3(ADDR[fe], POP3, timeout=30)
    try:
        p.user(addr(user))
        p.pass_(pw(user))
        n = p.stat()[0]
        p.quit()
        return n
    except poplib.error_proto as e:
        return e
    finally:
        p.close()


def test_mail_to_both_mailbox_hosts_through_either_frontend(isp):
    for fe in ("fe1", "fe2"):
        for user in ("alice", "bob"):
            send(isp, fe, [addr(user)], f"first {fe} {user}")
    send(isp, "fe2", [addr("carol"), addr("dave")], "both hosts at once")
    for fe in ("fe1", "fe2"):
        for user in ("alice", "bob"):
            assert arrived(isp, user, f"first {fe} {user}"), \
                isp.host[fe].ctl("queue", "list").stdout
    assert arrived(isp, "carol", "both hosts at once")
    assert arrived(isp, "dave", "both hosts at once")
    # Each user's mail is on their own host only; the front-ends store none.
    for user, home in HOME.items():
        for h in ("mb1", "mb2", "fe1", "fe2"):
            if h != home:
                assert not subjects_on(isp, h, user), (user, h)


def subjects_on(isp, host, user):
    root = isp.host[host].maildir(addr(user))
    return [n for sub in ("new", "cur") if os.path.isdir(os.path.join(root, sub))
            for n in os.listdir(os.path.join(root, sub))]


def test_imap_and_pop3_at_either_frontend_reach_the_users_mailbox(isp):
    for user in ("carol", "dave"):
        send(isp, "fe1", [addr(user)], f"for reading {user}")
        assert arrived(isp, user, f"for reading {user}")
    for fe in ("fe1", "fe2"):
        for user in ("carol", "dave"):
            got = isp.run(imap_inbox, fe, user)
            assert isinstance(got, list) and f"for reading {user}" in got, (fe, user, got)
            n = isp.run(pop3_count, fe, user)
            assert n == len(subjects(isp, user)), (fe, user, n)
        assert "proxy=mb1" in isp.host[fe].log_text() and "proxy=mb2" in isp.host[fe].log_text()


class FrontHttps:
    """What jmap_harness.Jmap needs: HTTPS to a front-end (connected by
    the thread that makes the first request: one in the client namespace)."""

    def __init__(self, fe):
        self.fe = fe

    def https(self, timeout=30):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(ADDR[self.fe], BASE + 443, timeout=timeout,
                                           context=ctx)


def jmap_subjects(fe, user):
    """Email/query + Email/get of the user's mail through front-end fe."""
    jm = Jmap(FrontHttps(fe), addr(user), pw(user))
    try:
        acct = jm.account
        ids = {"resultOf": "q", "name": "Email/query", "path": "/ids"}
        r = jm.api([["Email/query", {"accountId": acct}, "q"],
                    ["Email/get", {"accountId": acct, "#ids": ids, "properties": ["subject"]},
                     "g"]])
        return [e["subject"] for e in r["methodResponses"][1][1]["list"]]
    finally:
        jm.close()


def test_jmap_at_either_frontend_reaches_the_users_mailbox(isp):
    for user in ("alice", "bob"):
        send(isp, "fe2", [addr(user)], f"for jmap {user}")
        assert arrived(isp, user, f"for jmap {user}")
    for fe in ("fe1", "fe2"):
        for user in ("alice", "bob"):
            got = isp.run(jmap_subjects, fe, user)
            assert f"for jmap {user}" in got, (fe, user, got)
        log = isp.host[fe].log_text()
        assert "service=http user=alice@example.test" in log and "proxy=mb1" in log
    for h, user in (("mb1", "alice"), ("mb2", "bob")):
        assert f"site login: service=http user={addr(user)}" in isp.host[h].log_text()


def test_kill9_of_a_mailbox_host_while_200_messages_are_sent(isp):
    """mb1 loses power after the first 50 of 200 messages (to users of both
    hosts, through both front-ends): mb2's users get mail and log in while
    mb1 is dead, and once it is back every message that got a 250 is in its
    user's INBOX: once, or twice when mb1 died between taking it and its 250
    reaching the front-end (RFC 1047; the front-end logs that a retry may
    deliver it twice). Nothing else duplicates: mb1's own queue suppresses
    a second local delivery by queue id (deliverd/maildir.c)."""
    users = ["alice", "bob", "carol", "dave"]
    accepted, refused = [], []
    fifty = threading.Event()

    def sender():
        for i in range(200):
            user = users[i % 4]
            fe = "fe1" if (i // 4) % 2 == 0 else "fe2"
            subject = f"storm {i} {user}"
            try:
                code, text = smtp_send(fe, [addr(user)], subject)
            except (OSError, smtplib.SMTPException) as e:
                code, text = None, str(e)
            (accepted if code == 250 else refused).append((user, subject, code, text))
            if i == 49:
                fifty.set()
        fifty.set()

    t = isp.ns["cl"].thread.submit(sender)
    assert fifty.wait(120)
    isp.kill9("mb1")
    try:
        # Users of the other host are served while mb1 is dead.
        send(isp, "fe2", [addr("bob")], "while mb1 is dead")
        assert arrived(isp, "bob", "while mb1 is dead")
        got = isp.run(imap_inbox, "fe1", "dave")
        assert isinstance(got, list) and got, got
        assert isinstance(isp.run(pop3_count, "fe2", "bob"), int)
        # mb1's users cannot log in now (a temporary refusal).
        got = isp.run(imap_inbox, "fe2", "alice")
        assert isinstance(got, imaplib.IMAP4.error) and "UNAVAILABLE" in str(got), got
        t.result(timeout=300)
    finally:
        isp.restart("mb1")
    # Front-ends never refuse mail because a mailbox host is down.
    assert not refused, refused[:5]
    assert len(accepted) == 200
    isp.flush()

    def all_in():
        return all(subjects(isp, u).count(s) >= 1 for u, s, _, _ in accepted)
    assert wait_for(all_in, timeout=120), \
        [s for u, s, _, _ in accepted if s not in subjects(isp, u)][:10]
    time.sleep(2)           # let a duplicate, if any is on its way, land
    twice = []
    for user in users:
        got = subjects(isp, user)
        for _, s, _, _ in (a for a in accepted if a[0] == user):
            if got.count(s) != 1:
                twice.append(explain_twice(isp, user, s))
    # A second copy is a relay retry (RFC 1047: mb1 took the message and
    # died before its 250 reached the front-end, which retried); mb1's own
    # queue never delivers twice. Seen in about one run in ten.
    if twice:
        print("delivered twice after the RFC 1047 window:", twice)


def explain_twice(isp, user, subject):
    """Two copies relayed by one front-end under one queue id, taken by mb1
    under two (a relay retry, not a second local delivery on mb1). Whether
    the front-end logged the loss after the end of that message is
    returned, not asserted: not yet seen in a failing run's log."""
    got = copies(isp, user, subject)
    assert len(got) == 2, (user, subject, got)
    ids = []
    for _, trace in got:
        t = b" ".join(trace)
        fe = re.search(rb"by (fe[12])\.example\.test \(tern\) with \S+ id ([0-9A-Za-z]+)", t)
        mb = re.search(rb"by mb1\.example\.test \(tern\) with \S+ id ([0-9A-Za-z]+)", t)
        assert fe and mb, got
        ids.append((fe.groups(), mb.group(1)))
    assert ids[0][0] == ids[1][0] and ids[0][1] != ids[1][1], (subject, ids)
    fe, qid = (x.decode() for x in ids[0][0])
    logged = re.search(rf"{qid}: to=<{addr(user)}>, relay=.*status=deferred \(lost connection "
                       r"with \S+ after the end of the message", isp.host[fe].log_text())
    return subject, fe, qid, "logged" if logged else "not logged"


def test_kill9_of_a_frontend_the_sender_retries_at_the_other_mx(isp):
    """fe1 (the first MX) holds a message for bob that mb2 cannot take yet
    when it loses power. The client.test MTA, following the MX records,
    finds fe1 dead and hands its mail to fe2; fe1's message arrives once fe1
    is back."""
    isp.host["mb2"].stop()
    try:
        send(isp, "fe1", [addr("bob")], "held by fe1")
        assert wait_for(lambda: "bob@example.test" in isp.host["fe1"].ctl("queue", "list").stdout,
                        timeout=20)
        isp.kill9("fe1")
        for user in ("alice", "bob"):
            isp.client.ctl("sendmail", "-f", "sender@client.test", addr(user),
                           input=f"Subject: via mx {user}\r\n\r\nfollowing MX\r\n")
        assert arrived(isp, "alice", "via mx alice"), isp.client.log_text()[-3000:]
    finally:
        isp.host["mb2"].start()
    isp.flush()
    assert arrived(isp, "bob", "via mx bob"), isp.host["fe2"].ctl("queue", "list").stdout
    log = isp.client.log_text()
    assert "fe2.example.test" in log, log[-3000:]
    isp.restart("fe1")
    isp.flush()
    assert arrived(isp, "bob", "held by fe1"), isp.host["fe1"].ctl("queue", "list").stdout
    time.sleep(2)
    for user, s in (("bob", "held by fe1"), ("bob", "via mx bob"), ("alice", "via mx alice")):
        assert subjects(isp, user).count(s) == 1, (user, s)


def rcpt_reply(fe, rcpt):
    with smtplib.SMTP(ADDR[fe], SMTP, timeout=30) as s:
        s.ehlo("client.test")
        assert s.mail("sender@client.test")[0] == 250
        return s.rcpt(rcpt)


def test_while_the_directory_is_down_smtp_says_4xx_and_logins_fail_temporarily(isp):
    isp.pg.stop()
    try:
        for fe in ("fe1", "fe2"):
            for user in ("alice", "bob", "nobody"):
                code, text = isp.run(rcpt_reply, fe, addr(user))
                assert 400 <= code < 500, (fe, user, code, text)     # never a bounce
            got = isp.run(imap_inbox, fe, "carol")
            assert isinstance(got, imaplib.IMAP4.error) and "UNAVAILABLE" in str(got), got
            got = isp.run(pop3_count, fe, "dave")
            assert isinstance(got, poplib.error_proto) and "SYS/TEMP" in str(got), got
    finally:
        isp.pg.start()
    # Everything resumes once it is back: authd reconnects on its own (after
    # a failed connect it answers TEMPFAIL at once for a second, then tries
    # again: common/dir_pgsql.c PG_RETRY_MS).
    for fe in ("fe1", "fe2"):
        assert wait_for(lambda: isp.run(rcpt_reply, fe, addr("alice"))[0] == 250, timeout=30,
                        interval=0.5), fe
    send(isp, "fe2", [addr("alice"), addr("bob")], "after the directory")
    assert arrived(isp, "alice", "after the directory")
    assert arrived(isp, "bob", "after the directory")
    got = isp.run(imap_inbox, "fe1", "carol")
    assert isinstance(got, list), got
    assert isinstance(isp.run(pop3_count, "fe2", "dave"), int)
