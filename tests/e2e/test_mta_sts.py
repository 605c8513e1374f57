"""MTA-STS for outbound mail (RFC 8461, issue 15). Instance A delivers to
instance B (every MX, on 127.0.0.2, with a certificate for mx.sts.test from a
test CA). Policies are served over HTTPS by a test web server whose
certificates come from the same CA; DNS (dnsmasq) publishes the TXT records.

  enforce.test   enforce, mx: mx.sts.test     -> delivered, TLS verified
  badmx.test     enforce, mx: other.sts.test  -> deferred: the MX is not in the policy
  badcert.test   enforce, mx: *.sts.test, MX mx2.sts.test (B's certificate
                 names mx.sts.test)           -> deferred: certificate does not verify
  testing.test   testing, mx: other.sts.test  -> delivered anyway, logged
  none.test      no TXT record                -> no policy, opportunistic TLS

The policy is cached for max_age and fetched again only when the TXT id
changes; the fetch is done by the deliverd-sts process, not the SMTP client.

TLS-RPT (RFC 8460): every destination but badmx.test and post.test publishes
_smtp._tls with rua=mailto:tlsrpt@a.test, an address of A itself, so
`mailctl tlsrpt report` on A mails each report through A's queue into that
mailbox, where the test reads the JSON back. post.test (no MTA-STS policy)
publishes an https: rua on the test web server, which records each POST.
enforce.test also names tlsrpt@none.test, a mailbox on B: that copy leaves
through A's remote agent, DKIM-signed with a.test's key (RFC 8460 3).
"""
import base64
import email
import gzip
import http.server
import json
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import threading
import time

import dkim
import pytest

from conftest import IS_ROOT, Instance, wait_for
from test_remote import DNSMASQ, Dns

pytestmark = pytest.mark.skipif(not os.path.exists(DNSMASQ), reason="needs dnsmasq")

POLICIES = {
    "enforce.test": ("enforce", ["mx.sts.test"]),
    "badmx.test": ("enforce", ["other.sts.test"]),
    "badcert.test": ("enforce", ["*.sts.test"]),
    "testing.test": ("testing", ["other.sts.test"]),
}
MX = {"enforce.test": "mx.sts.test", "badmx.test": "mx.sts.test", "badcert.test": "mx2.sts.test",
      "testing.test": "mx.sts.test", "none.test": "mx.sts.test", "post.test": "mx.sts.test"}
REPORT_HOST = "tlsrpt.sts.test"     # post.test's https: rua, on the policy web server


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d):
    """A test CA and certificates for B's MX name and every mta-sts host."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=tern test CA", cwd=d)

    def leaf(name, sans):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                f"{name}.csr", "-subj", f"/CN={sans[0]}", cwd=d)
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write("subjectAltName=" + ",".join("DNS:" + s for s in sans) + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile",
                f"{name}.ext", cwd=d)
        return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")
    mx = leaf("mx", ["mx.sts.test"])
    web = leaf("web", ["mta-sts." + dom for dom in MX] + [REPORT_HOST])
    return os.path.join(d, "ca.pem"), mx, web


class PolicyServer:
    """HTTPS on 127.0.0.1:port: /.well-known/mta-sts.txt of the Host asked for."""

    def __init__(self, port, cert, key):
        self.policies = dict(POLICIES)
        self.fetches = {}
        self.max_age = {}       # domain -> max_age served (86400 unless set)
        self.posts = []             # (Host, path, Content-Type, body) of each POST
        self.post_status = 200
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                srv.posts.append((self.headers.get("Host"), self.path,
                                  self.headers.get("Content-Type"), body))
                self.send_response(srv.post_status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                host = (self.headers.get("Host") or "").split(":")[0]
                dom = host[len("mta-sts."):] if host.startswith("mta-sts.") else ""
                srv.fetches[dom] = srv.fetches.get(dom, 0) + 1
                if self.path != "/.well-known/mta-sts.txt" or dom not in srv.policies:
                    self.send_response(404)
                    self.end_headers()
                    return
                mode, mxs = srv.policies[dom]
                body = ("version: STSv1\r\nmode: %s\r\n%smax_age: %d\r\n" % (
                    mode, "".join(f"mx: {m}\r\n" for m in mxs),
                    srv.max_age.get(dom, 86400))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def txt_rr(name, text):
    """A TXT record of one string that may hold commas (--txt-record splits
    strings at every comma): raw RDATA for --dns-rr (type 16)."""
    data = text.encode()
    return f"--dns-rr={name},16,{(bytes([len(data)]) + data).hex()}"


def report_url(web_port):
    return f"https://{REPORT_HOST}:{web_port}/tlsrpt"


def dns_records(ids, web_port):
    recs = ["--address=/mx.sts.test/127.0.0.2", "--address=/mx2.sts.test/127.0.0.2",
            f"--address=/{REPORT_HOST}/127.0.0.1",
            txt_rr("_smtp._tls.post.test", f"v=TLSRPTv1; rua={report_url(web_port)}")]
    for dom, mx in MX.items():
        recs.append(f"--mx-host={dom},{mx},10")
        recs.append(f"--address=/mta-sts.{dom}/127.0.0.1")
        if dom in ids:
            recs.append(f"--txt-record=_mta-sts.{dom},v=STSv1; id={ids[dom]}")
        if dom not in ("badmx.test", "post.test"):
            rua = "mailto:tlsrpt@a.test" + (",mailto:tlsrpt@none.test"
                                            if dom == "enforce.test" else "")
            recs.append(txt_rr(f"_smtp._tls.{dom}", f"v=TLSRPTv1; rua={rua}"))
    return recs


@pytest.fixture(scope="module")
def world():
    parent = tempfile.mkdtemp(prefix="tern-sts-")
    os.chmod(parent, 0o755)
    a = Instance(parent, domain="a.test", hostname="mx.a.test")
    b = Instance(parent, domain="none.test", hostname="mx.sts.test")
    dns = web = None
    try:
        certs = os.path.join(parent, "certs")
        os.makedirs(certs)
        ca, (mxcert, mxkey), (webcert, webkey) = make_ca(certs)
        os.chmod(certs, 0o755)
        for f in os.listdir(certs):
            os.chmod(os.path.join(certs, f), 0o644)
        a.init()
        b.init("--listen", "127.0.0.2")
        shutil.copy(mxcert, os.path.join(b.dir, "tls", "cert.pem"))
        shutil.copy(mxkey, os.path.join(b.dir, "tls", "key.pem"))
        for dom in MX:
            if dom != "none.test":
                b.ctl("domain", "add", dom)
            b.add_user(f"bob@{dom}", "bob-pw-1")
        b.add_user("tlsrpt@none.test", "tlsrpt-pw-1")
        out = a.ctl("dkim", "keygen", "a.test", "--selector", "rpt", "--algorithm",
                    "ed25519").stdout
        a.dkim_records = {b"rpt._domainkey.a.test.": "".join(out.split('"')[1::2]).encode()}
        dns_port = 16000 + os.getpid() % 1000
        web_port = 17000 + os.getpid() % 1000
        a.ids = {dom: "v1" for dom in POLICIES}
        a.dns_port = dns_port
        a.web_port = web_port
        dns = Dns(dns_port, dns_records(a.ids, web_port))
        web = PolicyServer(web_port, webcert, webkey)
        a.set_conf("tern", "dns_server", f"127.0.0.1:{dns_port}")
        a.set_conf("deliverd", "smtp_port", str(b.port("smtp")))
        a.set_conf("deliverd", "smtp_tls_ca_file", ca)
        a.set_conf("deliverd", "mta_sts_port", str(web_port))
        a.add_user("alice@a.test", "alice-pw-1")
        a.add_user("tlsrpt@a.test", "tlsrpt-pw-1")
        b.start()
        a.start()
        for dom in MX:
            send(a, f"bob@{dom}", dom)
        a.web, a.dns = web, dns
        yield a, b
    finally:
        a.stop()
        b.stop()
        if web:
            web.stop()
        if getattr(a, "dns", dns):
            getattr(a, "dns", dns).stop()
        shutil.rmtree(parent, ignore_errors=True)


def send(a, rcpt, tag, requiretls=False):
    msg = (f"From: alice@a.test\r\nTo: {rcpt}\r\nSubject: sts {tag}\r\n"
           f"Message-ID: <{tag}.{time.time()}@a.test>\r\n\r\ncase {tag}\r\n")
    with smtplib.SMTP("127.0.0.1", a.port("submission"), timeout=30) as s:
        s.starttls()
        s.login("alice@a.test", "alice-pw-1")
        s.sendmail("alice@a.test", [rcpt], msg, mail_options=["REQUIRETLS"] if requiretls else [])


def delivered(b, rcpt, tag):
    d = os.path.join(b.maildir(rcpt), "new")
    if not os.path.isdir(d):
        return False
    return any(f"case {tag}" in open(os.path.join(d, n), errors="replace").read()
               for n in os.listdir(d))


def log_line(a, rcpt, status):
    for line in a.log_text().splitlines():
        if f"to=<{rcpt}>" in line and f"status={status}" in line and "tern/deliverd" in line:
            return line
    return None


def test_enforce_delivers_with_a_verified_certificate(world):
    a, b = world
    assert wait_for(lambda: delivered(b, "bob@enforce.test", "enforce.test"), 60), \
        a.log_text()[-4000:]
    line = log_line(a, "bob@enforce.test", "sent")
    assert "tls_policy=mta-sts: enforce (id v1), smtp_tls=verify" in line, line
    # the policy came through the fetcher process, which logged it
    assert "mta-sts: enforce.test: policy id=v1 mode=enforce" in a.log_text()


def bounces_to_alice(a):
    d = os.path.join(a.maildir("alice@a.test"), "new")
    texts = [open(os.path.join(d, n), errors="replace").read()
             for n in (os.listdir(d) if os.path.isdir(d) else [])]
    return [t for t in texts if "multipart/report" in t]


def test_requiretls_is_authenticated_by_an_mta_sts_policy(world):
    """RFC 8689 4.2.1: an MTA-STS policy authenticates the MX for REQUIRETLS
    (DANE is the other way, test_dane.py); in testing mode the policy is
    applied as if enforced, so an MX outside it returns the message."""
    a, b = world
    send(a, "bob@enforce.test", "rt-enforce", requiretls=True)
    send(a, "bob@testing.test", "rt-testing", requiretls=True)
    assert wait_for(lambda: delivered(b, "bob@enforce.test", "rt-enforce"), 60), \
        a.log_text()[-4000:]
    sent = [l for l in a.log_text().splitlines() if "to=<bob@enforce.test>" in l
            and "status=sent" in l and "requiretls; mta-sts: enforce" in l]
    assert sent and "smtp_tls=verify" in sent[0], a.log_text()[-4000:]
    # B was asked for REQUIRETLS and took on the promise
    assert any("requiretls result=queued" in l and "bob@enforce.test" in l
               for l in b.log_text().splitlines()), b.log_text()[-3000:]
    assert wait_for(lambda: any("rt-testing" in t for t in bounces_to_alice(a)), 60), \
        a.log_text()[-4000:]
    t = [t for t in bounces_to_alice(a) if "rt-testing" in t][0]
    assert "5.7.30" in t and "REQUIRETLS" in t and "not named by the MTA-STS policy" in t, t
    assert not delivered(b, "bob@testing.test", "rt-testing")


def test_enforce_refuses_an_mx_outside_the_policy(world):
    a, b = world
    assert wait_for(lambda: log_line(a, "bob@badmx.test", "deferred"), 60), a.log_text()[-4000:]
    line = log_line(a, "bob@badmx.test", "deferred")
    assert "not named by the MTA-STS policy" in line, line
    assert not delivered(b, "bob@badmx.test", "badmx.test")
    # `mailctl queue show` says which policy holds the message back, and why
    ids = [l.split()[0] for l in a.ctl("queue", "list").stdout.splitlines()
           if "bob@badmx.test" in l]
    shown = [a.ctl("queue", "show", i, check=False).stdout for i in ids]
    assert any("mta-sts" in t.lower() and "not named by the MTA-STS policy" in t
               for t in shown), shown


def test_enforce_refuses_a_certificate_that_does_not_match(world):
    a, b = world
    assert wait_for(lambda: log_line(a, "bob@badcert.test", "deferred"), 60), \
        a.log_text()[-4000:]
    assert "did not verify" in log_line(a, "bob@badcert.test", "deferred")
    assert not delivered(b, "bob@badcert.test", "badcert.test")


def test_testing_mode_delivers_and_reports(world):
    a, b = world
    assert wait_for(lambda: delivered(b, "bob@testing.test", "testing.test"), 60), \
        a.log_text()[-4000:]
    assert "mta-sts testing: MX host mx.sts.test is not named by the policy" in a.log_text()
    assert "tls_policy=mta-sts: testing (id v1)" in log_line(a, "bob@testing.test", "sent")


def test_no_policy_published(world):
    a, b = world
    assert wait_for(lambda: delivered(b, "bob@none.test", "none.test"), 60), a.log_text()[-4000:]
    assert "mta-sts: none" in log_line(a, "bob@none.test", "sent")
    assert a.web.fetches.get("none.test", 0) == 0


def test_policy_is_cached_and_refetched_when_the_id_changes(world):
    a, b = world
    assert wait_for(lambda: delivered(b, "bob@enforce.test", "enforce.test"), 60)
    before = a.web.fetches.get("enforce.test", 0)
    assert before == 1
    # the web server now serves another policy under the same id: not fetched
    a.web.policies["enforce.test"] = ("enforce", ["other.sts.test"])
    send(a, "bob@enforce.test", "cached")
    assert wait_for(lambda: delivered(b, "bob@enforce.test", "cached"), 60), a.log_text()[-4000:]
    assert a.web.fetches["enforce.test"] == before
    # a new id in DNS: fetched again, and the new policy (other MX) holds the mail back
    a.dns.stop()
    a.ids["enforce.test"] = "v2"
    a.dns = Dns(a.dns_port, dns_records(a.ids, a.web_port))
    send(a, "bob@enforce.test", "refetched")
    assert wait_for(lambda: a.web.fetches["enforce.test"] == before + 1, 60), a.log_text()[-3000:]
    assert wait_for(lambda: "(mta-sts: enforce (id v2))" in a.log_text()
                    or "policy (enforce, id v2)" in a.log_text(), 60), a.log_text()[-3000:]
    assert not delivered(b, "bob@enforce.test", "refetched")


def test_policy_is_fetched_again_once_its_max_age_has_passed(world):
    """RFC 8461 5.1: a cached policy is used until max_age; after that the
    next delivery fetches it again, even under the same id."""
    a, b = world
    assert wait_for(lambda: delivered(b, "bob@testing.test", "testing.test"), 60)
    a.web.max_age["testing.test"] = 2
    a.dns.stop()
    a.ids["testing.test"] = "v2"        # a new id: fetched now, with max_age 2
    a.dns = Dns(a.dns_port, dns_records(a.ids, a.web_port))
    before = a.web.fetches["testing.test"]
    send(a, "bob@testing.test", "short-age")
    assert wait_for(lambda: delivered(b, "bob@testing.test", "short-age"), 60), \
        a.log_text()[-3000:]
    assert a.web.fetches["testing.test"] == before + 1
    assert "mta-sts: testing.test: policy id=v2 mode=testing max_age=2" in a.log_text()
    time.sleep(3)                       # the cached policy expires; the id is unchanged
    send(a, "bob@testing.test", "expired")
    assert wait_for(lambda: delivered(b, "bob@testing.test", "expired"), 60), \
        a.log_text()[-3000:]
    assert a.web.fetches["testing.test"] == before + 2, a.log_text()[-3000:]


def test_the_fetcher_is_its_own_process(world):
    a, b = world
    rows = {l.split()[0]: l.split() for l in a.ctl("status").stdout.splitlines()}
    assert "deliverd-sts" in rows
    if IS_ROOT:
        assert rows["deliverd-sts"][2] == "tern-sts"


def tls_reports(a, rcpt="tlsrpt@a.test"):
    """The TLS reports in rcpt's mailbox on a: {policy domain: (mail, json, file name)}."""
    d = os.path.join(a.maildir(rcpt), "new")
    out = {}
    for n in os.listdir(d) if os.path.isdir(d) else []:
        raw = open(os.path.join(d, n), "rb").read()
        msg = email.message_from_bytes(raw)
        msg.raw = raw
        for part in msg.walk():
            if part.get_content_type() == "application/tlsrpt+gzip":
                doc = json.loads(gzip.decompress(base64.b64decode(part.get_payload())))
                out[msg["TLS-Report-Domain"]] = (msg, doc, part.get_filename())
    return out


def policy(doc, ptype):
    return next(p for p in doc["policies"] if p["policy"]["policy-type"] == ptype)


def test_tls_reports_go_to_each_domains_rua(world):
    a, b = world
    for dom in ("enforce.test", "testing.test", "none.test"):
        assert wait_for(lambda: delivered(b, f"bob@{dom}", dom), 60), a.log_text()[-3000:]
    assert wait_for(lambda: log_line(a, "bob@badcert.test", "deferred"), 60)
    assert wait_for(lambda: os.path.exists(os.path.join(a.dir, "spool", "tlsrpt", "records")),
                    30), a.log_text()[-3000:]
    r = a.ctl("tlsrpt", "report")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "report domain=enforce.test" in r.stdout, r.stdout
    # badmx.test publishes no _smtp._tls record: nothing is sent for it
    assert "report domain=badmx.test status=none" in r.stdout, r.stdout
    want = {"enforce.test", "badcert.test", "testing.test", "none.test"}
    assert wait_for(lambda: want <= set(tls_reports(a)), 60), (r.stdout, set(tls_reports(a)),
                                                               a.log_text()[-3000:])
    reps = tls_reports(a)

    msg, doc, fname = reps["enforce.test"]
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "tlsrpt"
    assert msg["TLS-Report-Submitter"] == "mx.a.test"
    assert msg["Message-ID"].count("@") == 1, msg["Message-ID"]
    assert msg["Subject"].startswith("Report Domain: enforce.test Submitter: mx.a.test Report-ID:")
    assert fname.startswith("mx.a.test!enforce.test!") and fname.endswith(".json.gz")
    assert doc["organization-name"] == "mx.a.test"
    p = policy(doc, "sts")
    assert p["policy"]["policy-domain"] == "enforce.test"
    assert "mode: enforce" in p["policy"]["policy-string"]
    assert p["policy"]["mx-host"] == ["mx.sts.test"]
    assert p["summary"]["total-successful-session-count"] >= 1

    # the certificate names mx.sts.test, the MX is mx2.sts.test
    doc = reps["badcert.test"][1]
    p = policy(doc, "sts")
    assert p["summary"]["total-failure-session-count"] >= 1
    kinds = {d["result-type"] for d in p["failure-details"]}
    assert "certificate-host-mismatch" in kinds, p
    d = p["failure-details"][0]
    assert d["receiving-mx-hostname"] == "mx2.sts.test" and d["receiving-ip"] == "127.0.0.2"
    assert d["sending-mta-ip"]

    # testing mode: delivered, but the MX is outside the policy: a failure to report
    p = policy(reps["testing.test"][1], "sts")
    assert any(d["result-type"] == "validation-failure" for d in p["failure-details"]), p

    p = policy(reps["none.test"][1], "no-policy-found")
    assert p["summary"]["total-successful-session-count"] >= 1
    assert "policy-string" not in p["policy"]

    # the records were taken: a second run reports none of them (only, maybe,
    # none.test: the copy of enforce.test's report for B went there over TLS)
    r = a.ctl("tlsrpt", "report")
    assert r.returncode == 0, r.stdout
    assert not any(f"report domain={d}" in r.stdout for d in want - {"none.test"}), r.stdout


def records_for(a, domain):
    p = os.path.join(a.dir, "spool", "tlsrpt", "records")
    return os.path.exists(p) and domain in open(p, errors="replace").read()


def outbox_runs(a):
    box = os.path.join(a.dir, "spool", "tlsrpt", "outbox")
    return sorted(os.listdir(box)) if os.path.isdir(box) else []


def test_tls_reports_leave_dkim_signed(world):
    """RFC 8460 3: reports by mail are DKIM-signed. The copy for tlsrpt@none.test
    (on B) leaves through A's remote agent, signed d=a.test: the sender
    noreply-tlsrpt@mx.a.test is under a.test (relaxed alignment)."""
    a, b = world
    # (delivered or held back by a policy an earlier test changed: either way
    # the TLS session is recorded)
    send(a, "bob@enforce.test", "signed")
    assert wait_for(lambda: records_for(a, "enforce.test"), 30), a.log_text()[-3000:]
    r = a.ctl("tlsrpt", "report")
    assert "rua domain=enforce.test to=tlsrpt@none.test status=sent" in r.stdout, r.stdout
    assert wait_for(lambda: "enforce.test" in tls_reports(b, "tlsrpt@none.test"), 60), \
        a.log_text()[-3000:]
    msg, doc, _ = tls_reports(b, "tlsrpt@none.test")["enforce.test"]
    assert "noreply-tlsrpt@mx.a.test" in msg["From"], msg["From"]
    raw = msg.raw[msg.raw.index(b"DKIM-Signature"):]
    assert re.search(rb"\bd=a\.test;", raw[:600]) and re.search(rb"\bs=rpt;", raw[:600]), raw[:600]
    assert dkim.verify(raw, dnsfunc=lambda n, timeout=5: a.dkim_records.get(n)), raw[:600]
    check_rfc8460_json(doc, "enforce.test")


def dkim_verified(b, rcpt, tag, records):
    """The DKIM-Signature of the message tagged tag in rcpt's mailbox on b
    verifies with records (dkimpy); returns its s= value."""
    d = os.path.join(b.maildir(rcpt), "new")
    raw = next(open(os.path.join(d, n), "rb").read() for n in os.listdir(d)
               if f"case {tag}".encode() in open(os.path.join(d, n), "rb").read())
    raw = raw[raw.index(b"DKIM-Signature"):]
    assert dkim.verify(raw, dnsfunc=lambda n, timeout=5: records.get(n)), raw[:600]
    return re.search(rb"\bs=([\w-]+);", raw[:600]).group(1).decode()


def test_the_master_switches_a_staged_dkim_key_once_its_record_is_in_dns(world):
    """dkim_rotate_interval: the master takes the rotate steps itself for a
    domain with a staged selector, switching (and reloading the remote agent)
    once the record is in DNS, without the admin running rotate again."""
    a, b = world
    keys = os.path.join(a.dir, "dkim", "a.test")
    out = a.ctl("dkim", "rotate", "a.test", "--selector", "s2", "--algorithm", "ed25519").stdout
    assert "staged selector s2 for a.test" in out, out
    s2 = "".join(out.split('"')[1::2])
    a.set_conf("tern", "dkim_rotate_interval", "2s")
    a.ctl("reload")
    try:
        # not in DNS yet: the scheduled step waits and changes nothing
        assert wait_for(lambda: "dkim rotate: a.test: waiting for s2" in a.log_text(), 30), \
            a.log_text()[-3000:]
        assert "s2.key.staged" in os.listdir(keys) and "rpt.key" in os.listdir(keys)
        loaded = a.log_text().count("signing mail of a.test with selector")
        a.dns.stop()
        a.dns = Dns(a.dns_port, dns_records(a.ids, a.web_port)
                    + [txt_rr("s2._domainkey.a.test", s2)])
        assert wait_for(lambda: "dkim rotate: a.test: switched a.test to selector s2"
                        in a.log_text(), 30), a.log_text()[-3000:]
        assert sorted(os.listdir(keys)) == ["rpt.retired", "rpt.txt", "s2.key", "s2.txt"]
        # the switch reloaded the instance: the remote agent signs with s2
        assert wait_for(lambda: a.log_text().count("signing mail of a.test with selector s2")
                        > 0 and a.log_text().count("signing mail of a.test with selector")
                        > loaded, 60), a.log_text()[-3000:]
        send(a, "bob@none.test", "rotated")
        assert wait_for(lambda: delivered(b, "bob@none.test", "rotated"), 60), \
            a.log_text()[-3000:]
        records = dict(a.dkim_records)
        records[b"s2._domainkey.a.test."] = s2.encode()
        assert dkim_verified(b, "bob@none.test", "rotated", records) == "s2"
    finally:
        a.set_conf("tern", "dkim_rotate_interval", "24h")
        a.ctl("reload")


def check_rfc8460_json(doc, domain):
    """The fields RFC 8460 4.3 requires, with their types."""
    assert isinstance(doc["organization-name"], str) and doc["organization-name"]
    assert doc["date-range"]["start-datetime"] <= doc["date-range"]["end-datetime"]
    assert doc["contact-info"] and doc["report-id"]
    for p in doc["policies"]:
        assert p["policy"]["policy-type"] in ("sts", "tlsa", "no-policy-found")
        assert p["policy"]["policy-domain"] == domain
        for k in ("total-successful-session-count", "total-failure-session-count"):
            assert isinstance(p["summary"][k], int)


def test_tls_reports_are_posted_to_an_https_rua(world):
    a, b = world
    web, url = a.web, report_url(a.web_port)
    send(a, "bob@post.test", "post1")
    assert wait_for(lambda: delivered(b, "bob@post.test", "post1"), 60), a.log_text()[-3000:]
    assert wait_for(lambda: records_for(a, "post.test"), 30), a.log_text()[-3000:]

    # the receiver answers 503: the report waits in the outbox (exit 75)
    web.post_status = 503
    n = len(web.posts)
    r = a.ctl("tlsrpt", "report", check=False)
    assert r.returncode == 75, r.stdout + r.stderr
    assert f'rua domain=post.test uri={url} status=deferred reason="HTTP status 503"' \
        in r.stdout, r.stdout
    assert len(web.posts) == n + 1
    assert len(outbox_runs(a)) == 1

    # the next run posts it (once), and the outbox is empty again
    web.post_status = 200
    r = a.ctl("tlsrpt", "report", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"rua domain=post.test uri={url} status=posted" in r.stdout, r.stdout
    assert len(web.posts) == n + 2 and outbox_runs(a) == []
    host, path, ctype, body = web.posts[-1]
    assert host.split(":")[0] == REPORT_HOST and path == "/tlsrpt"
    assert ctype == "application/tlsrpt+gzip"
    doc = json.loads(gzip.decompress(body))
    check_rfc8460_json(doc, "post.test")
    p = policy(doc, "no-policy-found")
    assert p["summary"]["total-successful-session-count"] >= 1

    # still failing 24 hours after its run: given up, said so, and gone
    send(a, "bob@post.test", "post2")
    assert wait_for(lambda: delivered(b, "bob@post.test", "post2"), 60), a.log_text()[-3000:]
    assert wait_for(lambda: records_for(a, "post.test"), 30), a.log_text()[-3000:]
    web.post_status = 500
    assert a.ctl("tlsrpt", "report", check=False).returncode == 75
    box = os.path.join(a.dir, "spool", "tlsrpt", "outbox")
    (run,) = outbox_runs(a)
    old = "%012d-%s" % (int(time.time()) - 86400 - 60, run.split("-", 1)[1])
    os.rename(os.path.join(box, run), os.path.join(box, old))
    r = a.ctl("tlsrpt", "report", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"rua domain=post.test uri={url} status=dropped" in r.stdout, r.stdout
    assert "not posted within 24 hours" in r.stdout
    assert outbox_runs(a) == []
    web.post_status = 200


def test_the_master_runs_the_tls_report_on_its_interval(world):
    """tlsrpt_report_interval: the master runs `mailctl tlsrpt report --log`
    itself; the records are taken and the report mailed, said in the log."""
    a, b = world
    send(a, "bob@none.test", "scheduled")
    assert wait_for(lambda: delivered(b, "bob@none.test", "scheduled"), 60), a.log_text()[-3000:]
    assert wait_for(lambda: records_for(a, "none.test"), 30), a.log_text()[-3000:]
    a.set_conf("tern", "tlsrpt_report_interval", "2s")
    a.ctl("reload")
    try:
        assert wait_for(lambda: "tlsrpt report: rua domain=none.test to=tlsrpt@a.test "
                        "status=sent" in a.log_text(), 30), a.log_text()[-3000:]
        assert wait_for(lambda: re.search(r"tlsrpt report: pid=\d+ done", a.log_text()), 30), \
            a.log_text()[-3000:]
    finally:
        a.set_conf("tern", "tlsrpt_report_interval", "24h")
        a.ctl("reload")
