"""Inbound mail authentication on the MX port: DKIM signatures made by an
independent signer (dkimpy), DMARC policies served by a real DNS server
(dnsmasq), each case checked by the SMTP reply, the Authentication-Results
header and the folder the message landed in.

Clients connect from loopback, which the MAIL FROM domains used here
(a.test, other.test) authorise in their SPF records, so SPF is "pass" (loopback
gets no free pass: test_spf_table.py); DMARC failures come from a MAIL FROM
domain that does not align with From. The SPF result table
(pass/fail/softfail/neutral/none/permerror/temperror from chosen client
addresses, cross-checked with pyspf) is test_spf_table.py, which runs its
instance in a network namespace."""
import os
import smtplib
import subprocess

import dkim
import pytest

from conftest import wait_for
from test_remote import DNSMASQ, Dns, txt_arg

pytestmark = pytest.mark.skipif(not os.path.exists(DNSMASQ), reason="needs dnsmasq")

SEL = "sel"


def make_key(d):
    out = subprocess.run(["openssl", "genrsa", "-traditional", "2048"], capture_output=True,
                         check=True).stdout
    path = os.path.join(d, "signer.pem")
    with open(path, "wb") as f:
        f.write(out)
    pub = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    import base64
    return out, "v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode()


@pytest.fixture
def mx(new_instance):
    inst = new_instance()
    inst.init()
    key, txt = make_key(inst.dir)
    dns_port = 13000 + os.getpid() % 1000
    inst.set_conf("tern", "dns_server", f"127.0.0.1:{dns_port}")
    inst.set_conf("smtpd", "trusted_networks", "")
    records = ["--address=/#/"]
    for dom in ("a.test", "mail.s.test", "mail.r.test"):
        records.append(txt_arg(f"{SEL}._domainkey.{dom}", txt))
    records += [f"--txt-record={dom},v=spf1 ip4:127.0.0.0/8 ip6:::1 -all"
                for dom in ("a.test", "other.test")]
    records += ["--txt-record=_dmarc.a.test,v=DMARC1; p=reject",
                "--txt-record=_dmarc.q.test,v=DMARC1; p=quarantine",
                "--txt-record=_dmarc.n.test,v=DMARC1; p=none",
                "--txt-record=_dmarc.p.test,v=DMARC1; p=none; sp=reject",
                "--txt-record=_dmarc.s.test,v=DMARC1; p=reject; adkim=s",
                "--txt-record=_dmarc.r.test,v=DMARC1; p=reject"]
    inst.dns = Dns(dns_port, records)
    inst.key = key
    inst.add_user("bob@example.test", "bob-pw-1")
    yield inst
    inst.dns.stop()


def message(frm, subject, extra=""):
    return (f"From: {frm}\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
            f"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@t>\r\n{extra}"
            f"\r\nHello Bob.\r\n").encode()


def sign(inst, msg, domain):
    return dkim.sign(msg, SEL.encode(), domain.encode(), inst.key,
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + msg


def send(inst, mail_from, msg):
    """(code, text) of the end-of-DATA reply."""
    with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=60) as s:
        s.ehlo("client.test")
        s.mail(mail_from)
        code, text = s.rcpt("bob@example.test")
        assert code == 250, text
        return s.data(msg)


def delivered(inst, folder=None, count=1):
    base = inst.maildir("bob@example.test")
    d = os.path.join(base, "." + folder if folder else "", "new")
    ok = wait_for(lambda: os.path.isdir(d) and len(os.listdir(d)) >= count, 30)
    assert ok, f"nothing in {d}\n" + inst.log_text()[-3000:]
    return [open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))]


def ar_header(raw):
    text = raw.decode(errors="replace")
    start = text.index("Authentication-Results: mx.example.test;")
    end = text.index("\n", start)
    while text[end + 1] in " \t":
        end = text.index("\n", end + 1)
    return text[start:end]


def test_dkim_pass_gives_dmarc_pass(mx):
    mx.start()
    code, _ = send(mx, "bounce@other.test", sign(mx, message("Alice <alice@a.test>", "s1"), "a.test"))
    assert code == 250
    ar = ar_header(delivered(mx)[0])
    assert "dkim=pass" in ar and "header.d=a.test" in ar and "dmarc=pass" in ar, ar


def test_dmarc_reject_gives_550_and_nothing_delivered(mx):
    mx.start()
    code, text = send(mx, "bounce@other.test", message("alice@a.test", "s2"))
    assert code == 550 and text.startswith(b"5.7.1"), text
    body_altered = sign(mx, message("alice@a.test", "s3"), "a.test").replace(b"Hello", b"Jello")
    code, _ = send(mx, "bounce@other.test", body_altered)
    assert code == 550
    assert not os.listdir(os.path.join(mx.maildir("bob@example.test"), "new"))


def test_dmarc_pass_via_spf_only(mx):
    mx.start()
    code, _ = send(mx, "alice@a.test", message("alice@a.test", "s4"))
    assert code == 250
    ar = ar_header(delivered(mx)[0])
    assert "spf=pass smtp.mailfrom=alice@a.test" in ar and "dkim=none" in ar
    assert "dmarc=pass" in ar


def test_quarantine_lands_in_junk(mx):
    mx.start()
    code, _ = send(mx, "bounce@other.test", message("q@q.test", "s5"))
    assert code == 250
    ar = ar_header(delivered(mx, "Junk")[0])
    assert "dmarc=fail (p=quarantine dis=quarantine)" in ar, ar
    assert not os.listdir(os.path.join(mx.maildir("bob@example.test"), "new"))


def test_p_none_is_delivered_and_marked(mx):
    mx.start()
    code, _ = send(mx, "bounce@other.test", message("n@n.test", "s6"))
    assert code == 250
    assert "dmarc=fail (p=none dis=none)" in ar_header(delivered(mx)[0])


def test_subdomain_policy(mx):
    mx.start()
    code, _ = send(mx, "bounce@other.test", message("x@sub.p.test", "s7"))
    assert code == 550                                   # sp=reject applies to sub.p.test
    code, _ = send(mx, "bounce@other.test", message("x@p.test", "s8"))
    assert code == 250                                   # p=none for p.test itself


def test_strict_and_relaxed_alignment(mx):
    mx.start()
    # d=mail.s.test signs mail From s.test: aligned only under relaxed rules.
    code, _ = send(mx, "bounce@other.test", sign(mx, message("x@s.test", "s9"), "mail.s.test"))
    assert code == 550                                   # adkim=s
    code, _ = send(mx, "bounce@other.test", sign(mx, message("x@r.test", "s10"), "mail.r.test"))
    assert code == 250                                   # relaxed (default)
    assert "dmarc=pass" in ar_header(delivered(mx)[0])


def test_forged_results_removed(mx):
    mx.start()
    forged = "Authentication-Results: mx.example.test; dkim=pass header.d=a.test\r\n"
    code, _ = send(mx, "alice@a.test", message("alice@a.test", "s11", extra=forged))
    assert code == 250
    raw = delivered(mx)[0]
    assert raw.count(b"Authentication-Results: mx.example.test;") == 1
    assert b"dkim=pass header.d=a.test\n" not in raw
    assert "removed 1 forged Authentication-Results" in mx.log_text()


def test_local_override_softens_policy(mx):
    mx.set_conf("smtpd", "dmarc_overrides", "a.test=none")
    mx.start()
    code, _ = send(mx, "bounce@other.test", message("alice@a.test", "s12"))
    assert code == 250


def test_trusted_network_skips_checks(mx):
    mx.set_conf("smtpd", "trusted_networks", "127.0.0.0/8")
    mx.start()
    code, _ = send(mx, "bounce@other.test", message("alice@a.test", "s13"))
    assert code == 250
    assert b"Authentication-Results: mx.example.test" not in delivered(mx)[0]
