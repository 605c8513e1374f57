"""DANE for SMTP (RFC 7672) and REQUIRETLS (RFC 8689), issue 15: instance A delivers to MX hosts whose
zone is DNSSEC-signed (ldns-signzone) and served by nsd; A validates every
answer itself (libunbound) from the zone's own key as trust anchor. Instance B
on 127.0.0.2 is every MX. Cases, one domain each:

  good      TLSA 3 1 1 of B's key       -> delivered over TLS authenticated by DANE
  wrong     TLSA 3 1 1 of another key   -> deferred, the message is never sent
  bogus     TLSA changed after signing  -> deferred (bogus), never sent
  unusable  only a PKIX-TA(0) record    -> TLS required, not authenticated (RFC 7672 3.1)
  notlsa    signed, no TLSA             -> the configured policy (opportunistic)
  plain.test  an unsigned zone          -> the configured policy, no DANE
  noreq     TLSA 3 1 1 of B's key, but the MX (a test peer on 127.0.0.3) does
            not offer REQUIRETLS   -> a REQUIRETLS message comes back

REQUIRETLS messages go only where the MX is authenticated (signed) and the
peer's certificate is (DANE, or a verified certificate) and it offers
REQUIRETLS; else they come back (5.7.30) with headers only. "TLS-Required: No"
lets a message past a failing DANE check.
"""
import glob
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import Instance, wait_for

NSD = "/usr/sbin/nsd"
SIGN = "/usr/bin/ldns-signzone"
KEYGEN = "/usr/bin/ldns-keygen"
pytestmark = pytest.mark.skipif(not all(os.path.exists(p) for p in (NSD, SIGN, KEYGEN)),
                                reason="needs nsd and ldnsutils: run tools/deps.sh")

CASES = ("good", "wrong", "bogus", "unusable", "notlsa")


def spki_sha256(cert):
    return subprocess.run(f"openssl x509 -in {cert} -noout -pubkey | openssl pkey -pubin "
                          "-outform DER | openssl dgst -sha256 -r", shell=True, check=True,
                          capture_output=True, text=True).stdout.split()[0]


class SignedDns:
    """nsd on 127.0.0.1:port serving dane.test (signed) and plain.test (unsigned)."""

    def __init__(self, d, port, smtp_port, good_digest):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        tlsa = {"good": f"3 1 1 {good_digest}",
                "wrong": "3 1 1 " + "5a" * 32,
                "bogus": f"3 1 1 {good_digest}",
                "unusable": f"0 0 1 {good_digest}"}
        lines = ["$ORIGIN dane.test.", "$TTL 300",
                 "@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300",
                 "@ IN NS ns.dane.test.", "ns IN A 127.0.0.1"]
        for c in CASES:
            lines += [f"{c} IN MX 10 mx-{c}.dane.test.", f"mx-{c} IN A 127.0.0.2"]
            if c in tlsa:
                lines.append(f"_{smtp_port}._tcp.mx-{c} IN TLSA {tlsa[c]}")
        # the peer on 127.0.0.3 (NoRequireTlsPeer) has B's key, so DANE authenticates it
        lines += ["noreq IN MX 10 mx-noreq.dane.test.", "mx-noreq IN A 127.0.0.3",
                  f"_{smtp_port}._tcp.mx-noreq IN TLSA 3 1 1 {good_digest}"]
        self.write("dane.test.zone", lines)
        self.write("plain.test.zone", [
            "$ORIGIN plain.test.", "$TTL 300",
            "@ IN SOA ns.plain.test. hostmaster.plain.test. 1 3600 600 86400 300",
            "@ IN NS ns.plain.test.", "ns IN A 127.0.0.1",
            "@ IN MX 10 mx.plain.test.", "mx IN A 127.0.0.2"])
        ksk = self.run(KEYGEN, "-a", "ECDSAP256SHA256", "-k", "dane.test")
        zsk = self.run(KEYGEN, "-a", "ECDSAP256SHA256", "dane.test")
        self.run(SIGN, "dane.test.zone", zsk, ksk)
        self.break_signature()
        self.trust_anchor = os.path.join(d, ksk + ".key")
        os.chmod(d, 0o755)
        os.chmod(self.trust_anchor, 0o644)
        self.write("nsd.conf", [
            "server:", f"  ip-address: 127.0.0.1@{port}", f"  port: {port}", '  username: ""',
            f"  zonesdir: {d}", f"  pidfile: {d}/nsd.pid", '  database: ""',
            f"  xfrdfile: {d}/xfrd.state", f"  zonelistfile: {d}/zone.list",
            f"  logfile: {d}/nsd.log", "  do-ip6: no",
            "remote-control:", "  control-enable: no",
            "zone:", "  name: dane.test", "  zonefile: dane.test.zone.signed",
            "zone:", "  name: plain.test", "  zonefile: plain.test.zone"])
        self.proc = subprocess.Popen([NSD, "-d", "-c", os.path.join(d, "nsd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(lambda: "nsd started" in self.log(), 15), self.log()

    def write(self, name, lines):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write("\n".join(lines) + "\n")

    def run(self, *argv):
        return subprocess.run(argv, cwd=self.dir, check=True, capture_output=True,
                              text=True).stdout.strip()

    def break_signature(self):
        """Change the bogus host's TLSA data after signing: its RRSIG no longer
        matches, as if an attacker had rewritten the answer."""
        path = os.path.join(self.dir, "dane.test.zone.signed")
        out = []
        for line in open(path):
            if line.startswith("_") and "mx-bogus" in line and "\tTLSA\t" in line:
                head, data = line.rstrip("\n").rsplit(None, 1)
                line = head + "\t" + ("00" if not data.startswith("00") else "11") + data[2:] + "\n"
            out.append(line)
        with open(path, "w") as f:
            f.writelines(out)

    def log(self):
        try:
            return open(os.path.join(self.dir, "nsd.log")).read()
        except OSError:
            return ""

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class NoRequireTlsPeer:
    """An SMTP server on 127.0.0.3 that offers STARTTLS (with B's key, so DANE
    authenticates it) but not REQUIRETLS. It answers 250 to everything and
    records the commands it is sent."""

    def __init__(self, port, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.3", port))
        self.sock.settimeout(0.5)
        self.commands = []
        self.tls_sessions = 0
        self.done = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.done:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.session(conn)
            except (OSError, ssl.SSLError):
                pass

    def session(self, conn):
        conn.settimeout(30)
        tls = False
        conn.sendall(b"220 mx-noreq.dane.test ESMTP\r\n")
        f = conn.makefile("rb")
        for _ in range(100):
            line = f.readline(1000)
            if not line:
                break
            cmd = line.decode(errors="replace").strip()
            self.commands.append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                ext = b"" if tls else b"250-STARTTLS\r\n"
                conn.sendall(b"250-mx-noreq.dane.test\r\n" + ext + b"250 8BITMIME\r\n")
            elif verb == "STARTTLS" and not tls:
                conn.sendall(b"220 go ahead\r\n")
                conn = self.ctx.wrap_socket(conn, server_side=True)
                conn.settimeout(30)
                f = conn.makefile("rb")
                tls = True
                self.tls_sessions += 1
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                break
            else:
                conn.sendall(b"250 ok\r\n")
        conn.close()

    def stop(self):
        self.done = True
        self.sock.close()
        self.thread.join(timeout=5)


def maildir_files(inst, address):
    d = os.path.join(inst.maildir(address), "new")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


@pytest.fixture(scope="module")
def world():
    parent = tempfile.mkdtemp(prefix="tern-dane-")
    os.chmod(parent, 0o755)     # the daemons' accounts must reach their instance
    a = Instance(parent, domain="a.test", hostname="mx.a.test")
    b = Instance(parent, domain="plain.test", hostname="mx.b.test")
    dns = peer = None
    try:
        a.init()
        b.init("--listen", "127.0.0.2")
        for c in CASES:
            b.ctl("domain", "add", f"{c}.dane.test")
            b.add_user(f"bob@{c}.dane.test", "bob-pw-1")
        b.add_user("bob@plain.test", "bob-pw-1")
        dns_port = 15000 + os.getpid() % 1000
        dns = SignedDns(os.path.join(parent, "dns"), dns_port, b.port("smtp"),
                        spki_sha256(b.cert()))
        a.set_conf("tern", "dns_server", f"127.0.0.1:{dns_port}")
        a.set_conf("deliverd", "smtp_port", str(b.port("smtp")))
        a.set_conf("deliverd", "dnssec_trust_anchor", dns.trust_anchor)
        a.add_user("alice@a.test", "alice-pw-1")
        peer = NoRequireTlsPeer(b.port("smtp"), b.cert(), os.path.join(b.dir, "tls", "key.pem"))
        a.peer = peer
        b.start()
        a.start()
        for c in CASES:
            send(a, f"bob@{c}.dane.test", c)
        send(a, "bob@plain.test", "plain")
        send(a, "bob@good.dane.test", "rt-good", requiretls=True)
        send(a, "bob@plain.test", "rt-plain", requiretls=True)
        send(a, "bob@notlsa.dane.test", "rt-notlsa", requiretls=True)
        send(a, "bob@noreq.dane.test", "rt-noreq", requiretls=True)
        send(a, "bob@wrong.dane.test", "optional", header="TLS-Required: No\r\n")
        yield a, b
    finally:
        a.stop()
        b.stop()
        if dns:
            dns.stop()
        if peer:
            peer.stop()
        shutil.rmtree(parent, ignore_errors=True)


def send(a, rcpt, tag, requiretls=False, header=""):
    msg = (f"From: alice@a.test\r\nTo: {rcpt}\r\nSubject: dane {tag}\r\n{header}"
           f"Message-ID: <{tag}.{time.time()}@a.test>\r\n\r\ncase {tag}\r\nsecret body {tag}\r\n")
    with smtplib.SMTP("127.0.0.1", a.port("submission"), timeout=30) as s:
        s.starttls()
        s.login("alice@a.test", "alice-pw-1")
        assert not requiretls or s.has_extn("requiretls")
        s.sendmail("alice@a.test", [rcpt], msg, mail_options=["REQUIRETLS"] if requiretls else [])


def maildir_texts(inst, address):
    d = os.path.join(inst.maildir(address), "new")
    return [open(os.path.join(d, n), errors="replace").read() for n in maildir_files(inst, address)]


def log_lines(a, rcpt):
    return [l for l in a.log_text().splitlines() if f"to=<{rcpt}>" in l and "tern/deliverd" in l]


def log_line(a, rcpt, status):
    for line in a.log_text().splitlines():
        if f"to=<{rcpt}>" in line and f"status={status}" in line:
            return line
    return None


def test_tlsa_match_authenticates_the_mx(world):
    a, b = world
    assert wait_for(lambda: maildir_files(b, "bob@good.dane.test"), 60), a.log_text()[-4000:]
    line = log_line(a, "bob@good.dane.test", "sent")
    assert line and "tls=TLSv1." in line and "dane_match=3 1 1 " in line, line
    assert "tls_policy=dane: 1 usable TLSA record(s)" in line, line


def test_wrong_tlsa_defers_and_never_sends(world):
    a, b = world
    rcpt = "bob@wrong.dane.test"
    assert wait_for(lambda: log_line(a, rcpt, "deferred"), 60), a.log_text()[-4000:]
    line = log_line(a, rcpt, "deferred")
    assert "matches none of its TLSA records" in line, line
    # only the TLS-Required: No copy got there (test_tls_required_no...)
    assert not any("case wrong" in t for t in maildir_texts(b, rcpt))
    # the queue says why it waits
    # (the TLS-Required: No copy to the same address may leave the queue meanwhile)
    ids = [l.split()[0] for l in a.ctl("queue", "list").stdout.splitlines() if rcpt in l]
    shown = [a.ctl("queue", "show", i, check=False).stdout for i in ids]
    assert any("TLSA" in t for t in shown), shown


def test_bogus_tlsa_defers(world):
    a, b = world
    rcpt = "bob@bogus.dane.test"
    assert wait_for(lambda: log_line(a, rcpt, "deferred"), 60), a.log_text()[-4000:]
    line = log_line(a, rcpt, "deferred")
    assert "bogus" in line and "dane" in line, line
    assert not maildir_files(b, rcpt)


def test_unusable_tlsa_means_tls_without_authentication(world):
    a, b = world
    rcpt = "bob@unusable.dane.test"
    assert wait_for(lambda: maildir_files(b, rcpt), 60), a.log_text()[-4000:]
    line = log_line(a, rcpt, "sent")
    assert "tls=TLSv1." in line and "none usable" in line and "dane_match" not in line, line


def test_signed_without_tlsa_and_unsigned_zone_use_the_configured_policy(world):
    a, b = world
    for rcpt, why in (("bob@notlsa.dane.test", "no TLSA records"),
                      ("bob@plain.test", "MX of plain.test is not signed")):
        assert wait_for(lambda: maildir_files(b, rcpt), 60), a.log_text()[-4000:]
        line = log_line(a, rcpt, "sent")
        assert "tls_policy=smtp_tls=may" in line and why in line, line



def test_requiretls_over_dane_reaches_a_peer_that_offers_it(world):
    a, b = world
    rcpt = "bob@good.dane.test"
    assert wait_for(lambda: any("case rt-good" in t for t in maildir_texts(b, rcpt)), 60), \
        a.log_text()[-4000:]
    sent = [l for l in log_lines(a, rcpt) if "requiretls; dane:" in l and "status=sent" in l]
    assert sent and "dane_match=3 1 1" in sent[0], log_lines(a, rcpt)
    # B was asked for REQUIRETLS (MAIL FROM parameter), and took on the promise
    assert any("requiretls result=queued" in l and rcpt in l for l in b.log_text().splitlines())


def bounces_to_alice(a):
    return [t for t in maildir_texts(a, "alice@a.test") if "Delivery Status Notification" in t
            or "multipart/report" in t]


def test_requiretls_to_unsigned_mx_or_unverified_peer_comes_back(world):
    a, b = world
    assert wait_for(lambda: all(any(tag in t for t in bounces_to_alice(a))
                                for tag in ("rt-plain", "rt-notlsa")), 60), a.log_text()[-4000:]
    texts = bounces_to_alice(a)
    plain = [t for t in texts if "rt-plain" in t]
    notlsa = [t for t in texts if "rt-notlsa" in t]
    assert plain and notlsa, texts
    for t in plain + notlsa:
        assert "5.7.30" in t and "REQUIRETLS" in t, t
        assert "text/rfc822-headers" in t and "secret body" not in t, t  # headers only
    assert "cannot be authenticated" in plain[0]          # MX not signed
    assert "did not verify" in notlsa[0]                   # signed MX, self-signed certificate
    assert not any("rt-plain" in t for t in maildir_texts(b, "bob@plain.test"))
    assert not any("rt-notlsa" in t for t in maildir_texts(b, "bob@notlsa.dane.test"))


def test_requiretls_to_an_authenticated_peer_without_it_comes_back(world):
    """RFC 8689 4.2.1: DANE authenticates mx-noreq, but it does not offer
    REQUIRETLS: the message is returned, and never sent there."""
    a, b = world
    assert wait_for(lambda: any("rt-noreq" in t for t in bounces_to_alice(a)), 60), \
        a.log_text()[-4000:]
    t = [t for t in bounces_to_alice(a) if "rt-noreq" in t][0]
    assert "5.7.30" in t and "does not offer REQUIRETLS" in t, t
    assert "secret body" not in t, t
    assert a.peer.tls_sessions >= 1, a.peer.commands     # TLS was made, and DANE passed
    assert not any(c.upper().startswith(("MAIL", "RCPT", "DATA")) for c in a.peer.commands), \
        a.peer.commands


def test_tls_required_no_passes_a_failing_dane_check(world):
    a, b = world
    rcpt = "bob@wrong.dane.test"
    assert wait_for(lambda: any("case optional" in t for t in maildir_texts(b, rcpt)), 60), \
        a.log_text()[-4000:]
    sent = [l for l in log_lines(a, rcpt) if "status=sent" in l]
    assert sent and "TLS-Required: No" in sent[0], sent


def test_requiretls_needs_tls_and_is_offered_only_inside_it(world):
    a, b = world
    with smtplib.SMTP("127.0.0.2", b.port("smtp"), timeout=30) as s:
        s.ehlo("client.test")
        assert not s.has_extn("requiretls")
        code, text = s.docmd("MAIL FROM:<x@a.test> REQUIRETLS")
        assert code == 530 and b"5.7.10" in text, (code, text)
        s.rset()
        s.starttls()
        s.ehlo("client.test")
        assert s.has_extn("requiretls")
        code, text = s.docmd("MAIL FROM:<x@a.test> REQUIRETLS")
        assert code == 250, (code, text)
        code, text = s.docmd("RSET")
        code, text = s.docmd("MAIL FROM:<x@a.test> REQUIRETLS=YES")
        assert code == 501, (code, text)
