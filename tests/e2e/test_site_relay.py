"""The relay between the hosts of a site (issue 16, docs/SCALING.md): a
front-end takes mail for every user of the shared PostgreSQL directory and
its queue hands each message to the user's mailbox host, on that host's
internal port (port_base + 24), authenticated with the site secret; while the
mailbox host is down the message waits in the front-end's queue.

One PostgreSQL cluster and two instances on loopback (different port bases)
for the whole module: a front-end and the mailbox host mb1."""
import base64
import os
import poplib
import shutil
import smtplib
import socket
import ssl
import tempfile

import pytest

from conftest import Instance, wait_for
from test_directory_pgsql import PG_BINS, Postgres, use_pgsql

pytestmark = pytest.mark.skipif(
    not PG_BINS, reason="PostgreSQL server not installed (tools/deps.sh check installs postgresql)")

SECRET = "site-secret-1234567890"


def write_secret(inst):
    path = os.path.join(inst.dir, "site.secret")
    with open(path, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(path, 0o600)
    inst.set_conf("tern", "site_secret_file", "site.secret")


class Site:
    def __init__(self, parent):
        # a start that fails part way still stops what it started
        # (PostgreSQL above all), then the test reports the failure
        try:
            self._build(parent)
        except BaseException:
            self.close()
            raise

    def _build(self, parent):
        self.pg = Postgres(parent)
        self.mb = Instance(parent, hostname="mb1.example.test")
        self.fe = Instance(parent, hostname="fe.example.test")
        for inst in (self.mb, self.fe):
            inst.init()
            use_pgsql(inst.dir, self.pg)
            write_secret(inst)
        self.mb.ctl("directory", "init")
        self.mb.ctl("domain", "add", "example.test")
        for user in ("alice", "bob"):
            self.mb.ctl("user", "add", f"{user}@example.test", "--host", "mb1",
                        input=f"{user}-pw-1\n")
        self.mb.ctl("user", "add", "dave@example.test", input="dave-pw-1\n")   # no host
        for k, v in {"role": "mailbox", "mailbox_host_name": "mb1",
                     "site_frontends": "127.0.0.1/32"}.items():
            self.mb.set_conf("tern", k, v)
        self.mb.start()         # first: start() may move it to another port base
        self.internal = self.mb.port("smtp-internal")
        for k, v in {"role": "frontend",
                     "mailbox_hosts": f"mb1=127.0.0.1:{self.internal}"}.items():
            self.fe.set_conf("tern", k, v)
        self.fe.set_conf("queued", "minimal_backoff_time", "1s")
        self.fe.start()

    def close(self):
        for name in ("fe", "mb"):
            inst = getattr(self, name, None)
            if inst is not None:
                inst.stop()
        if getattr(self, "pg", None) is not None:
            self.pg.close()


@pytest.fixture(scope="module")
def site():
    parent = tempfile.mkdtemp(prefix="tern-site-relay-")
    os.chmod(parent, 0o755)     # the daemons' accounts must reach their instances
    s = Site(parent)
    yield s
    s.close()
    shutil.rmtree(parent, ignore_errors=True)


def count(inst, address):
    new = os.path.join(inst.maildir(address), "new")
    return len(os.listdir(new)) if os.path.isdir(new) else 0


def send(inst, rcpt, subject, sender="x@sender.test"):
    with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=20) as s:
        s.sendmail(sender, [rcpt], f"Subject: {subject}\r\n\r\nbody\r\n".encode())


def read_all(inst, address):
    new = os.path.join(inst.maildir(address), "new")
    out = []
    for name in sorted(os.listdir(new)):
        with open(os.path.join(new, name), "rb") as f:
            out.append(f.read())
    return out


def test_mail_at_the_frontend_is_stored_on_the_users_mailbox_host(site):
    before = count(site.mb, "alice@example.test")
    send(site.fe, "alice+lists@example.test", "relayed")
    assert wait_for(lambda: count(site.mb, "alice@example.test") == before + 1, timeout=30), \
        site.fe.ctl("queue", "list").stdout + site.fe.log_text()[-3000:]
    msg = read_all(site.mb, "alice@example.test")[-1]
    assert b"Subject: relayed" in msg
    # It passed through both hosts (the front-end's Received first from the top
    # is the mailbox host's, on its internal port).
    assert msg.count(b"Received:") >= 2 and b"fe.example.test" in msg, msg[:800]
    assert count(site.fe, "alice@example.test") == 0         # a front-end stores nothing
    assert "site auth ok" in site.mb.log_text()
    assert wait_for(lambda: not site.fe.ctl("queue", "list").stdout.strip(), timeout=10)


def test_while_the_mailbox_host_is_down_mail_waits_and_arrives_after(site):
    before = count(site.mb, "bob@example.test")
    site.mb.stop()
    try:
        send(site.fe, "bob@example.test", "waited")

        def deferred():
            out = site.fe.ctl("queue", "list").stdout
            return "bob@example.test" in out and out
        out = wait_for(deferred, timeout=20)
        assert out, site.fe.ctl("queue", "list").stdout
        shown = site.fe.ctl("queue", "show", out.split()[0]).stdout
        assert "mb1" in shown and "4.4.1" in shown, shown        # kept, not bounced
    finally:
        site.mb.start()
    site.fe.ctl("queue", "flush")
    assert wait_for(lambda: count(site.mb, "bob@example.test") == before + 1, timeout=40), \
        site.fe.ctl("queue", "list").stdout
    assert b"Subject: waited" in read_all(site.mb, "bob@example.test")[-1]


def test_a_frontend_user_without_a_mailbox_host_bounces_at_once(site):
    """dave has no mailbox host: a front-end has nowhere to put his mail, and
    no retry can fix the directory, so the sender hears at once (5.3.5);
    here the sender is alice, so the bounce itself is relayed to mb1."""
    before = count(site.mb, "alice@example.test")
    send(site.fe, "dave@example.test", "nowhere", sender="alice@example.test")
    assert wait_for(lambda: count(site.mb, "alice@example.test") == before + 1, timeout=30), \
        site.fe.ctl("queue", "list").stdout
    dsn = read_all(site.mb, "alice@example.test")[-1]
    assert b"5.3.5" in dsn and b"dave@example.test" in dsn, dsn[:1500]
    assert count(site.fe, "dave@example.test") == 0


def internal(site):
    s = smtplib.SMTP("127.0.0.1", site.internal, timeout=20)
    s.ehlo("fe.example.test")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s.starttls(context=ctx)
    s.ehlo("fe.example.test")
    return s


def test_the_internal_port_wants_the_site_secret_and_takes_only_its_own_users(site):
    s = internal(site)
    try:
        code, _ = s.docmd("MAIL", "FROM:<x@sender.test>")
        assert code == 530                                   # not before AUTH
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("site", "wrong-secret")
        assert e.value.smtp_code == 535
    finally:
        s.close()
    s = internal(site)
    try:
        s.login("site", SECRET)
        assert s.docmd("MAIL", "FROM:<x@sender.test>")[0] == 250
        assert s.docmd("RCPT", "TO:<alice@example.test>")[0] == 250
        assert s.docmd("RCPT", "TO:<nobody@example.test>")[0] == 550
        code, text = s.docmd("RCPT", "TO:<someone@elsewhere.test>")
        assert code in (550, 554) and b"5.7.1" in text      # never an open relay
    finally:
        s.close()


class Imap:
    """A raw IMAP client (STARTTLS, IDLE) that sees every line."""

    def __init__(self, port, tls=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.f = self.sock.makefile("rb")
        self.n = 0
        assert self.line().startswith(b"* OK")
        if tls:
            self.cmd("STARTTLS")
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
            self.f = self.sock.makefile("rb")

    def line(self):
        """The next line without CRLF; None at the end of the connection."""
        raw = self.f.readline()
        return raw.rstrip(b"\r\n") if raw else None

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def cmd(self, text):
        """(tagged line, untagged lines)"""
        self.n += 1
        tag = f"a{self.n}"
        self.send(f"{tag} {text}")
        untagged = []
        while True:
            l = self.line()
            if l.startswith(tag.encode() + b" "):
                return l[len(tag) + 1:], untagged
            assert l is not None, untagged
            untagged.append(l)

    def close(self):
        self.sock.close()


def pop3(port, tls=True):
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        p.stls(ctx)
    return p


def all_mail(inst, address):
    root = inst.maildir(address)
    return [n for d in ("new", "cur") for n in os.listdir(os.path.join(root, d))]


def test_imap_at_the_frontend_is_the_mailbox_hosts_session(site):
    """alice logs in at the front-end: the session is hers on mb1 (proxied
    after login, authenticated there with the site secret), her mail is
    there, a STORE lands in mb1's Maildir, and IDLE hears a new delivery."""
    before = count(site.mb, "alice@example.test")
    send(site.fe, "alice@example.test", "before login")
    assert wait_for(lambda: count(site.mb, "alice@example.test") == before + 1, timeout=30)
    n = len(all_mail(site.mb, "alice@example.test"))
    c = Imap(site.fe.port("imap"))
    try:
        ok, untagged = c.cmd("LOGIN alice@example.test alice-pw-1")
        assert ok.startswith(b"OK"), (ok, site.fe.log_text()[-2000:])
        ok, untagged = c.cmd("SELECT INBOX")
        assert ok.startswith(b"OK") and f"* {n} EXISTS".encode() in untagged, untagged
        ok, untagged = c.cmd(f"FETCH {n} (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert ok.startswith(b"OK") and any(b"FETCH" in l for l in untagged), untagged
        ok, _ = c.cmd(f"STORE {n} +FLAGS (\\Flagged)")
        assert ok.startswith(b"OK")
        cur = os.path.join(site.mb.maildir("alice@example.test"), "cur")
        assert any(":2," in f and "F" in f.split(":2,")[1] for f in os.listdir(cur)), \
            os.listdir(cur)
        c.n += 1
        c.send(f"a{c.n} IDLE")
        assert c.line().startswith(b"+")
        send(site.fe, "alice@example.test", "during idle")
        c.sock.settimeout(60)   # through the front-end's queue and the relay
        while True:             # the socket's timeout bounds the wait
            l = c.line()
            if l == f"* {n + 1} EXISTS".encode():
                break
            assert l is not None, "connection closed"
        c.send("DONE")
        while not (l := c.line()).startswith(f"a{c.n} ".encode()):
            assert l is not None, "connection closed"
        assert l.startswith(f"a{c.n} OK".encode()), l
        ok, untagged = c.cmd("LOGOUT")
        assert ok.startswith(b"OK")
    finally:
        c.close()
    assert "proxy=mb1" in site.fe.log_text()
    assert "site login: service=imap user=alice@example.test client=127.0.0.1 result=ok" \
        in site.mb.log_text()
    assert not os.path.exists(site.fe.maildir("alice@example.test"))   # nothing stored there


def imap_refused(site, user, password, expect):
    """LOGIN at the front-end is refused with expect; the session goes on."""
    c = Imap(site.fe.port("imap"))
    try:
        ok, _ = c.cmd(f"LOGIN {user} {password}")
        assert ok.startswith(expect), ok
        assert c.cmd("NOOP")[0].startswith(b"OK")
    finally:
        c.close()


def pop3_refused(site, user, password, expect):
    """USER/PASS at the front-end is refused with expect; the session goes on."""
    p = pop3(site.fe.port("pop3"))
    try:
        p.user(user)
        with pytest.raises(poplib.error_proto) as e:
            p.pass_(password)
        assert e.value.args[0].startswith(expect), e.value.args
        assert p.capa()
    finally:
        p.close()


@pytest.mark.parametrize("service, refused, expect", [
    ("imap", imap_refused, b"NO [AUTHENTICATIONFAILED]"),
    ("pop3", pop3_refused, b"-ERR [AUTH]")])
def test_the_frontend_refuses_a_wrong_password_itself(site, service, refused, expect):
    before = site.mb.log_text().count(f"site login: service={service}")
    refused(site, "alice@example.test", "wrong-password", expect)
    assert site.mb.log_text().count(f"site login: service={service}") == before  # mb1 never asked


def test_imap_at_the_frontend_for_a_user_without_a_mailbox_host_fails_temporarily(site):
    """dave's password is right but the directory names no mailbox host for
    him: a temporary NO (the directory is incomplete), never counted as a
    failed login, neither by authd nor by the login role (which closes after
    three failures: here alice still logs in on the same connection)."""
    c = Imap(site.fe.port("imap"))
    try:
        for _ in range(3):
            ok, _ = c.cmd("LOGIN dave@example.test dave-pw-1")
            assert ok.startswith(b"NO [UNAVAILABLE]"), ok
        ok, _ = c.cmd("LOGIN alice@example.test alice-pw-1")
        assert ok.startswith(b"OK"), (ok, site.fe.log_text()[-2000:])
        c.cmd("LOGOUT")
    finally:
        c.close()
    log = site.fe.log_text()
    assert "service=imap user=dave@example.test client=127.0.0.1 result=tempfail " \
        "(a front-end, and the user has no mailbox host" in log
    assert "user=dave@example.test client=127.0.0.1 result=failed" not in log


def test_pop3_at_the_frontend_is_the_mailbox_hosts_maildrop(site):
    """bob logs in with USER/PASS at the front-end: the session is his on mb1
    (proxied after login, authenticated there with the site secret), STAT and
    RETR see mb1's mail and DELE removes it from mb1's Maildir."""
    before = count(site.mb, "bob@example.test")
    send(site.fe, "bob@example.test", "for pop3")
    assert wait_for(lambda: count(site.mb, "bob@example.test") == before + 1, timeout=30)
    n = len(all_mail(site.mb, "bob@example.test"))
    p = pop3(site.fe.port("pop3"))
    try:
        p.user("bob@example.test")
        assert p.pass_("bob-pw-1").startswith(b"+OK Logged in")
        assert p.stat()[0] == n
        last = b"\r\n".join(p.retr(n)[1])
        assert b"Subject: for pop3" in last
        assert p.dele(n).startswith(b"+OK")
        assert p.quit().startswith(b"+OK")
    finally:
        p.close()
    assert wait_for(lambda: len(all_mail(site.mb, "bob@example.test")) == n - 1, timeout=10)
    assert "pop3 login: ip=127.0.0.1 user=bob@example.test tls=yes proxy=mb1" in site.fe.log_text()
    assert "site login: service=pop3 user=bob@example.test client=127.0.0.1 result=ok" \
        in site.mb.log_text()
    assert not os.path.exists(site.fe.maildir("bob@example.test"))    # nothing stored there


@pytest.mark.parametrize("service, user, refused, expect", [
    ("imap", "alice@example.test", imap_refused, b"NO [UNAVAILABLE]"),
    ("pop3", "bob@example.test", pop3_refused, b"-ERR [SYS/TEMP]")])
def test_the_frontend_while_the_mailbox_host_is_down_is_unavailable(site, service, user, refused,
                                                                   expect):
    """The password was right, the mailbox host does not answer: the client
    hears a temporary failure (NO [UNAVAILABLE], -ERR [SYS/TEMP]) and its
    session goes on; the front-end logs why."""
    site.mb.stop()
    try:
        refused(site, user, f"{user.split('@')[0]}-pw-1", expect)
    finally:
        site.mb.start()
    log = site.fe.log_text()
    assert f"{service} proxy: user={user} host=mb1 127.0.0.1:{site.mb.port(service)} " \
        "client=127.0.0.1 failed: cannot connect" in log, log[-2000:]


def test_pop3_at_the_frontend_passes_on_a_mailbox_in_use(site):
    """A refusal the user can act on comes through as the mailbox host says
    it: bob's maildrop is locked by a session at mb1 itself."""
    held = pop3(site.mb.port("pop3"))
    try:
        held.user("bob@example.test")
        held.pass_("bob-pw-1")
        pop3_refused(site, "bob@example.test", "bob-pw-1", b"-ERR [IN-USE]")
    finally:
        held.quit()
    assert "failed: login refused: -ERR [IN-USE]" in site.fe.log_text()


def test_a_pop3_site_login_wants_a_frontend_and_the_secret(site):
    """At mb1's POP3 port a front-end (site_frontends) names its client with
    XCLIENT and logs in for a user with the site secret; elsewhere (the
    front-end has no site_frontends) XCLIENT is no command at all."""
    p = pop3(site.fe.port("pop3"), tls=False)
    try:
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd("XCLIENT ADDR=192.0.2.78")
        assert e.value.args[0].startswith(b"-ERR Unknown command")
    finally:
        p.close()

    def site_login(user, secret):
        p = pop3(site.mb.port("pop3"), tls=False)        # loopback is in site_frontends
        try:
            assert p._shortcmd("XCLIENT ADDR=192.0.2.78").startswith(b"+OK")
            b64 = base64.b64encode(f"{user}\0site\0{secret}".encode()).decode()
            try:
                return p._shortcmd(f"AUTH PLAIN {b64}")
            except poplib.error_proto as e:
                return e.args[0]
        finally:
            p.close()
    assert site_login("bob@example.test", "wrong-secret-1234567").startswith(b"-ERR")
    assert site_login("nobody@example.test", SECRET).startswith(b"-ERR")
    assert site_login("bob@example.test", SECRET).startswith(b"+OK Logged in")
    log = site.mb.log_text()
    assert "pop3 login: front-end 127.0.0.1 serves client 192.0.2.78" in log
    assert "site login: service=pop3 user=bob@example.test client=192.0.2.78 result=ok" in log


def test_a_site_login_wants_the_secret_and_a_user_stored_there(site):
    """At mb1's IMAP port a front-end (site_frontends) logs in for a user
    with the site secret; a wrong secret, or a user of no site, is refused."""
    def site_login(user, secret):
        c = Imap(site.mb.port("imap"), tls=False)     # loopback is in site_frontends
        try:
            ok, _ = c.cmd('ID ("x-originating-ip" "192.0.2.77")')
            assert ok.startswith(b"OK")
            b64 = base64.b64encode(f"{user}\0site\0{secret}".encode()).decode()
            return c.cmd(f"AUTHENTICATE PLAIN {b64}")[0]
        finally:
            c.close()
    assert site_login("bob@example.test", "wrong-secret-1234567").startswith(b"NO")
    assert site_login("nobody@example.test", SECRET).startswith(b"NO")
    assert site_login("bob@example.test", SECRET).startswith(b"OK")
    log = site.mb.log_text()
    assert "site login: service=imap user=bob@example.test client=192.0.2.77 result=ok" in log
    assert "result=failed" in log


def test_requiretls_waits_while_the_site_hop_is_not_verified(site):
    """RFC 8689 at a front-end with site_tls = none: the hop to mb1 cannot
    give verified TLS, so a message that asked for REQUIRETLS is held in the
    queue (4.7.30), never sent there (test_site_tls.py: with verify it goes)."""
    before = count(site.mb, "alice@example.test")
    with smtplib.SMTP("127.0.0.1", site.fe.port("smtp"), timeout=20) as s:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo()
        s.sendmail("x@sender.test", ["alice@example.test"],
                   b"Subject: required\r\n\r\nbody\r\n", mail_options=["REQUIRETLS"])

    def held():
        out = site.fe.ctl("queue", "list").stdout
        if "alice@example.test" not in out:
            return None
        qid = out.split()[0]
        shown = site.fe.ctl("queue", "show", qid).stdout
        return "4.7.30" in shown and (qid, shown)
    got = wait_for(held, timeout=20)
    assert got, site.fe.ctl("queue", "list").stdout + site.fe.log_text()[-2000:]
    qid, shown = got
    assert "site_tls = none" in shown, shown
    site.fe.ctl("queue", "delete", qid)
    assert count(site.mb, "alice@example.test") == before


def test_the_internal_port_refuses_clients_outside_site_frontends(site):
    """Last in the module: it leaves the mailbox host refusing its front-end."""
    site.mb.stop()
    site.mb.set_conf("tern", "site_frontends", "192.0.2.0/24")
    site.mb.ctl("start")
    site.mb.started = True
    with pytest.raises(smtplib.SMTPConnectError) as e:
        smtplib.SMTP("127.0.0.1", site.internal, timeout=60)
    assert e.value.smtp_code == 554
    # the log line may reach the file a moment after the 554 reached us
    assert wait_for(lambda: "not in site_frontends" in site.mb.log_text(), timeout=10), \
        site.mb.log_text()[-2000:]
