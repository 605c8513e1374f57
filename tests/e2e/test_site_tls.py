"""TLS on the hops between the hosts of a site, checked against the site's
own CA (issue 16, docs/SCALING.md: site_tls = verify, site_ca_file).

A CA made with the openssl command line signs mb1's certificate (for the
name mailbox_hosts gives it, "mb1"); mb2's certificate comes from another CA.
The front-end relays mail and proxies IMAP and POP3 logins to mb1 in
verified TLS; for mb2 the mail waits in its queue and logins fail
temporarily, each with a log line saying why. The mailbox hosts take the site
secret only inside TLS, so it never crosses in clear."""
import base64
import os
import poplib
import shutil
import smtplib
import subprocess
import tempfile

import pytest

from conftest import Instance, wait_for
from test_directory_pgsql import PG_BINS, Postgres, use_pgsql
from test_site_relay import SECRET, Imap, count, pop3, pop3_refused, imap_refused, \
    read_all, send, write_secret

pytestmark = pytest.mark.skipif(
    not PG_BINS, reason="PostgreSQL server not installed (tools/deps.sh check installs postgresql)")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "30",
            "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def sign_host(d, ca, host):
    """A key and a certificate for host (a DNS name) signed by ca."""
    with open(os.path.join(d, f"{host}.ext"), "w") as f:
        f.write(f"subjectAltName=DNS:{host}\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{host}.key", "-out", f"{host}.csr", "-subj", f"/CN={host}", cwd=d)
    openssl("x509", "-req", "-in", f"{host}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{host}.pem", "-days", "30", "-extfile", f"{host}.ext",
            cwd=d)


def install_cert(inst, d, host):
    """The instance's tls_cert and tls_key (as `mailctl init` made them, so
    their owners and modes stay) now hold host's certificate and key."""
    for src, dst in ((f"{host}.pem", "cert.pem"), (f"{host}.key", "key.pem")):
        with open(os.path.join(d, src)) as f, open(os.path.join(inst.dir, "tls", dst), "w") as g:
            g.write(f.read())


class TlsSite:
    def __init__(self, parent):
        # a start that fails part way still stops what it started
        # (PostgreSQL above all), then the test reports the failure
        try:
            self._build(parent)
        except BaseException:
            self.close()
            raise

    def _build(self, parent):
        self.ca_dir = os.path.join(parent, "ca")
        os.mkdir(self.ca_dir)
        make_ca(self.ca_dir, "site-ca")
        make_ca(self.ca_dir, "other-ca")
        sign_host(self.ca_dir, "site-ca", "mb1")
        sign_host(self.ca_dir, "other-ca", "mb2")
        self.pg = Postgres(parent)
        self.mb1 = Instance(parent, hostname="mb1.example.test")
        self.mb2 = Instance(parent, hostname="mb2.example.test")
        self.fe = Instance(parent, hostname="fe.example.test")
        for inst in (self.mb1, self.mb2, self.fe):
            inst.init()
            use_pgsql(inst.dir, self.pg)
            write_secret(inst)
            inst.set_conf("tern", "site_tls", "verify")
        self.mb1.ctl("directory", "init")
        self.mb1.ctl("domain", "add", "example.test")
        for user, host in (("alice", "mb1"), ("bob", "mb1"), ("carol", "mb2")):
            self.mb1.ctl("user", "add", f"{user}@example.test", "--host", host,
                         input=f"{user}-pw-1\n")
        for inst, name in ((self.mb1, "mb1"), (self.mb2, "mb2")):
            install_cert(inst, self.ca_dir, name)
            for k, v in {"role": "mailbox", "mailbox_host_name": name,
                         "site_frontends": "127.0.0.1/32"}.items():
                inst.set_conf("tern", k, v)
            # Clear-text logins would be allowed from loopback, so what refuses
            # the site secret in clear below is site_tls = verify alone.
            for conf in ("smtpd", "imapd", "pop3d"):
                inst.set_conf(conf, "plaintext_auth_networks", "127.0.0.0/8")
            inst.start()        # before the front-end: start() may move its port base
        shutil.copy(os.path.join(self.ca_dir, "site-ca.pem"), os.path.join(self.fe.dir, "site-ca.pem"))
        hosts = f"mb1=127.0.0.1:{self.mb1.port('smtp-internal')}, " \
                f"mb2=127.0.0.1:{self.mb2.port('smtp-internal')}"
        for k, v in {"role": "frontend", "mailbox_hosts": hosts,
                     "site_ca_file": "site-ca.pem"}.items():
            self.fe.set_conf("tern", k, v)
        self.fe.set_conf("queued", "minimal_backoff_time", "1s")
        self.fe.start()

    def close(self):
        for name in ("fe", "mb1", "mb2"):
            inst = getattr(self, name, None)
            if inst is not None:
                inst.stop()
        if getattr(self, "pg", None) is not None:
            self.pg.close()


@pytest.fixture(scope="module")
def site():
    parent = tempfile.mkdtemp(prefix="tern-site-tls-")
    os.chmod(parent, 0o755)     # the daemons' accounts must reach their instances
    s = TlsSite(parent)
    yield s
    s.close()
    shutil.rmtree(parent, ignore_errors=True)


def test_mail_crosses_to_the_mailbox_host_in_verified_tls(site):
    before = count(site.mb1, "alice@example.test")
    send(site.fe, "alice@example.test", "verified")
    assert wait_for(lambda: count(site.mb1, "alice@example.test") == before + 1, timeout=30), \
        site.fe.ctl("queue", "list").stdout + site.fe.log_text()[-3000:]
    assert b"Subject: verified" in read_all(site.mb1, "alice@example.test")[-1]
    log = site.fe.log_text()
    sent = [l for l in log.splitlines() if "to=<alice@example.test>, relay=mb1" in l and "status=sent" in l]
    assert sent and "tls=TLS" in sent[-1] and \
        "tls_policy=site: mailbox host mb1, site_tls=verify" in sent[-1], sent


def test_requiretls_is_carried_to_the_mailbox_host(site):
    """RFC 8689: the front-end took the message with REQUIRETLS; the hop to
    mb1 is verified TLS and says REQUIRETLS on MAIL FROM there."""
    before = count(site.mb1, "bob@example.test")
    with smtplib.SMTP("127.0.0.1", site.fe.port("smtp"), timeout=20) as s:
        s.starttls()
        s.ehlo()
        assert s.has_extn("requiretls")
        s.sendmail("x@sender.test", ["bob@example.test"],
                   b"Subject: required\r\n\r\nbody\r\n", mail_options=["REQUIRETLS"])
    assert wait_for(lambda: count(site.mb1, "bob@example.test") == before + 1, timeout=30), \
        site.fe.ctl("queue", "list").stdout + site.fe.log_text()[-3000:]
    sent = [l for l in site.fe.log_text().splitlines()
            if "to=<bob@example.test>, relay=mb1" in l and "status=sent" in l]
    assert sent and "tls_policy=requiretls; site: mailbox host mb1, site_tls=verify" \
        in sent[-1], sent


def test_a_host_whose_certificate_another_ca_signed_gets_no_mail(site):
    send(site.fe, "carol@example.test", "waits")

    def deferred():
        out = site.fe.ctl("queue", "list").stdout
        return "carol@example.test" in out and out
    out = wait_for(deferred, timeout=20)
    assert out, site.fe.ctl("queue", "list").stdout
    assert wait_for(lambda: "did not verify" in site.fe.log_text(), timeout=20), \
        site.fe.log_text()[-3000:]
    shown = site.fe.ctl("queue", "show", out.split()[0]).stdout
    assert "mb2" in shown and "did not verify" in shown, shown      # kept, not bounced
    assert count(site.mb2, "carol@example.test") == 0
    assert "site auth ok" not in site.mb2.log_text()                 # the secret never went


def test_imap_and_pop3_logins_cross_in_verified_tls(site):
    c = Imap(site.fe.port("imap"))
    try:
        ok, _ = c.cmd("LOGIN alice@example.test alice-pw-1")
        assert ok.startswith(b"OK"), (ok, site.fe.log_text()[-2000:])
        ok, untagged = c.cmd("SELECT INBOX")
        assert ok.startswith(b"OK") and any(b"EXISTS" in l for l in untagged), untagged
        c.cmd("LOGOUT")
    finally:
        c.close()
    p = pop3(site.fe.port("pop3"))
    try:
        p.user("bob@example.test")
        assert p.pass_("bob-pw-1").startswith(b"+OK Logged in")
        assert p.stat()[0] >= 0
        p.quit()
    finally:
        p.close()
    log = site.fe.log_text()
    assert "imap login: user=alice@example.test client=127.0.0.1 tls=yes proxy=mb1 " \
        "proxy_tls=verified" in log
    assert "pop3 login: ip=127.0.0.1 user=bob@example.test tls=yes proxy=mb1 " \
        "proxy_tls=verified" in log


@pytest.mark.parametrize("service, refused, expect", [
    ("imap", imap_refused, b"NO [UNAVAILABLE]"),
    ("pop3", pop3_refused, b"-ERR [SYS/TEMP]")])
def test_a_login_to_a_host_with_a_foreign_certificate_fails_temporarily(site, service, refused,
                                                                       expect):
    refused(site, "carol@example.test", "carol-pw-1", expect)
    log = site.fe.log_text()
    assert f"{service} proxy: user=carol@example.test host=mb2 127.0.0.1:" \
        f"{site.mb2.port(service)} client=127.0.0.1 failed: certificate did not verify" \
        in log, log[-2000:]
    assert f"site login: service={service}" not in site.mb2.log_text()


def test_the_mailbox_host_takes_the_site_secret_only_inside_tls(site):
    """site_tls = verify at mb1: the secret offered in clear is refused on
    the internal port, at IMAP and at POP3 (loopback is in site_frontends)."""
    s = smtplib.SMTP("127.0.0.1", site.mb1.port("smtp-internal"), timeout=20)
    try:
        s.ehlo("fe.example.test")
        b64 = base64.b64encode(f"\0site\0{SECRET}".encode()).decode()
        code, _ = s.docmd("AUTH", f"PLAIN {b64}")
        assert code == 538, code
    finally:
        s.close()
    c = Imap(site.mb1.port("imap"), tls=False)
    try:
        ok, _ = c.cmd('ID ("x-originating-ip" "192.0.2.79")')     # not believed in clear
        assert ok.startswith(b"OK"), ok
        b64 = base64.b64encode(f"alice@example.test\0site\0{SECRET}".encode()).decode()
        ok, _ = c.cmd(f"AUTHENTICATE PLAIN {b64}")
        assert ok.startswith(b"NO [PRIVACYREQUIRED]"), ok
    finally:
        c.close()
    p = pop3(site.mb1.port("pop3"), tls=False)
    try:
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd("XCLIENT ADDR=192.0.2.79")
        assert e.value.args[0].startswith(b"-ERR Unknown command")
        b64 = base64.b64encode(f"alice@example.test\0site\0{SECRET}".encode()).decode()
        try:
            r = p._shortcmd(f"AUTH PLAIN {b64}")
        except Exception as e:      # poplib.error_proto
            r = e.args[0]
        assert r.startswith(b"-ERR"), r
    finally:
        p.close()
    log = site.mb1.log_text()
    assert "site auth refused client=127.0.0.1: no TLS (site_tls = verify)" in log
    assert "imap: site login refused: user=alice@example.test client=127.0.0.1: no TLS" in log
    assert "pop3 login: site login refused: user=alice@example.test ip=127.0.0.1: no TLS" in log
    assert "192.0.2.79" not in log


def test_mailctl_check_wants_a_usable_site_ca_file(site):
    assert site.fe.ctl("check", check=False).returncode == 0
    site.fe.set_conf("tern", "site_ca_file", "missing-ca.pem")
    try:
        r = site.fe.ctl("check", check=False)
        assert r.returncode != 0 and "site_ca_file" in r.stdout + r.stderr, r
    finally:
        site.fe.set_conf("tern", "site_ca_file", "site-ca.pem")


def jmap_session(site, user):
    """GET the session resource at the front-end as user: (status, headers, body)."""
    import http.client
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", site.fe.port("https"), timeout=30, context=ctx)
    try:
        auth = base64.b64encode(f"{user}:{user.split('@')[0]}-pw-1".encode()).decode()
        c.request("GET", "/jmap/session", headers={"Authorization": "Basic " + auth})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def test_jmap_at_the_frontend_crosses_in_verified_tls_or_not_at_all(site):
    """The JMAP hop (httpd/siteproxy.c) checks mb1's certificate against the
    site's CA for the name mb1; mb2's, from another CA, gives 503, never a
    401, and the front-end says why."""
    st, h, body = jmap_session(site, "alice@example.test")
    assert st == 200, (st, body, site.fe.log_text()[-2000:])
    assert b'"username":"alice@example.test"' in body
    st, h, body = jmap_session(site, "carol@example.test")
    assert st == 503 and h.get("Retry-After") == "30", (st, body)
    log = site.fe.log_text()
    assert "http proxy: user=carol@example.test host=mb2" in log and \
        "certificate did not verify" in log, log[-2000:]
    assert "site login: service=http user=carol@example.test" not in site.mb2.log_text()


def test_no_sanitizer_findings_on_the_hops(site):
    """Under the sanitizer build (TERN_BIN=build-asan/bin) the daemons' stderr
    is in the log: no memory error or undefined behaviour on any host."""
    for inst in (site.fe, site.mb1, site.mb2):
        bad = [l for l in inst.log_text().splitlines()
               if "ERROR: AddressSanitizer" in l or "runtime error:" in l]
        assert not bad, bad
