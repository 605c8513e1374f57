"""Mail between two tern instances (issue: remote delivery): instance A
(a.test, on 127.0.0.1) relays a message submitted by its user to bob@b.test,
whose MX (served by dnsmasq) is instance B on 127.0.0.2. Checks STARTTLS with
certificate verification, DKIM (RSA and Ed25519) verified by dkimpy, byte-exact
arrival, and the 8BITMIME downgrade towards a peer without 8BITMIME."""
import email
import os
import smtplib
import ssl
import subprocess
import time

import dkim
import pytest

from conftest import IS_ROOT, wait_for
from test_remote import DNSMASQ, SINK, Dns, Sink, txt_arg

pytestmark = pytest.mark.skipif(not (os.path.exists(SINK) and os.path.exists(DNSMASQ)),
                                reason="needs postfix (smtp-sink) and dnsmasq: run tools/deps.sh")

BODY = ("Hello Bob,\r\n.leading dot line\r\nSecond line with trailing spaces   \r\n\r\n"
        "Regards\r\n")


def maildir_files(inst, address):
    d = os.path.join(inst.maildir(address), "new")
    return sorted(os.path.join(d, n) for n in os.listdir(d)) if os.path.isdir(d) else []


@pytest.fixture
def pair(new_instance):
    a = new_instance(domain="a.test", hostname="mx.a.test")
    b = new_instance(domain="b.test", hostname="mx.b.test")
    a.init()
    b.init("--listen", "127.0.0.2")
    dns_port = 14000 + os.getpid() % 1000
    a.set_conf("tern", "dns_server", f"127.0.0.1:{dns_port}")
    a.set_conf("deliverd", "smtp_port", str(b.port("smtp")))
    a.set_conf("deliverd", "smtp_tls_ca_file", b.cert())
    a.add_user("alice@a.test", "alice-pw-1")
    b.add_user("bob@b.test", "bob-pw-1")
    a.dns_port = dns_port
    a.extra = []
    yield a, b
    for x in a.extra:
        x.stop()


def submit(a, to, body, headers="", mail_options=()):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    msg = (f"From: Alice <alice@a.test>\r\nTo: {to}\r\nSubject: between instances\r\n"
           f"Message-ID: <{time.time()}@a.test>\r\n{headers}\r\n{body}")
    with smtplib.SMTP("127.0.0.1", a.port("submission"), timeout=30) as s:
        s.starttls(context=ctx)
        s.login("alice@a.test", "alice-pw-1")
        s.sendmail("alice@a.test", [to], msg.encode("utf-8"), mail_options=list(mail_options))
    return msg


def start_pair(a, b, key_alg):
    out = a.ctl("dkim", "keygen", "a.test", "--selector", "s1", "--algorithm", key_alg).stdout
    txt = "".join(out.split('"')[1::2])
    a.extra.append(Dns(a.dns_port, ["--mx-host=b.test,mx.b.test,10",
                                    "--address=/mx.b.test/127.0.0.2",
                                    txt_arg("s1._domainkey.a.test", txt)]))
    b.start()
    a.start()
    return txt


@pytest.mark.parametrize("key_alg", ["rsa", "ed25519"])
def test_a_to_b_with_verified_tls_and_dkim(pair, key_alg):
    a, b = pair
    a.set_conf("deliverd", "smtp_tls_policy", "b.test=verify")
    txt = start_pair(a, b, key_alg)
    sent = submit(a, "bob@b.test", BODY)
    assert wait_for(lambda: maildir_files(b, "bob@b.test"), 60), a.log_text()[-4000:]
    stored = open(maildir_files(b, "bob@b.test")[0], "rb").read()
    # Maildir files use LF; on the wire (and for DKIM) lines end in CRLF.
    wire = stored.replace(b"\n", b"\r\n")
    assert wire.endswith(sent.encode()), wire[-400:]           # the message arrives byte-exact
    signed = wire[wire.index(b"DKIM-Signature:"):]
    records = {b"s1._domainkey.a.test.": txt.encode()}
    assert dkim.verify(signed, dnsfunc=lambda n, timeout=5: records.get(n)), signed[:500]
    log = a.log_text()
    assert "relay=mx.b.test[127.0.0.2]" in log and "tls=TLSv1.3" in log, log[-3000:]


def test_8bitmime_downgraded_for_peer_without_it(pair):
    a, b = pair
    sink = Sink("127.0.0.2", b.port("smtp"), os.path.join(a.dir, "sink"), "-8")
    a.extra.append(sink)
    a.extra.append(Dns(a.dns_port, ["--mx-host=b.test,mx.b.test,10",
                                    "--address=/mx.b.test/127.0.0.2"]))
    a.start()
    body = "Gr\u00fc\u00dfe aus K\u00f6ln\r\nzweite Zeile\r\n"
    submit(a, "bob@b.test", body,
           headers="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n",
           mail_options=["BODY=8BITMIME"])
    assert wait_for(lambda: sink.messages(), 60), a.log_text()[-4000:]
    raw = sink.message()
    assert all(c < 0x80 for c in raw), "8-bit bytes reached a peer without 8BITMIME"
    msg = email.message_from_bytes(raw)
    assert msg["Content-Transfer-Encoding"].lower() == "quoted-printable"
    # smtp-sink's dump ends with an extra empty line of its own.
    assert msg.get_payload(decode=True).decode("utf-8").rstrip("\r\n") == body.rstrip("\r\n")


def test_relayhost_with_auth_over_tls(pair):
    """A sends everything through B's submission port as bob (AUTH needs TLS)."""
    a, b = pair
    secret = os.path.join(a.dir, "relay.secret")
    with open(secret, "w") as f:
        f.write("bob-pw-1\n")
    os.chmod(secret, 0o600)
    a.set_conf("deliverd", "relayhost", f"[127.0.0.2]:{b.port('submission')}")
    a.set_conf("deliverd", "relayhost_user", "bob@b.test")
    a.set_conf("deliverd", "smtp_tls", "encrypt")
    b.start()
    a.start()
    a.ctl("sendmail", "-f", "bob@b.test", "bob@b.test",
          input="From: bob@b.test\nSubject: via relay\n\nthrough the smart host\n")
    assert wait_for(lambda: maildir_files(b, "bob@b.test"), 60), a.log_text()[-4000:]
    assert "relay=127.0.0.2[127.0.0.2]" in a.log_text()
    assert "auth=bob@b.test" in b.log_text()


def test_relayhost_without_tls_gets_no_credentials(pair):
    a, b = pair
    sink = Sink("127.0.0.2", b.port("smtp"), os.path.join(a.dir, "sink"))
    a.extra.append(sink)
    secret = os.path.join(a.dir, "relay.secret")
    with open(secret, "w") as f:
        f.write("secret-pw\n")
    a.set_conf("deliverd", "relayhost", f"[127.0.0.2]:{b.port('smtp')}")
    a.set_conf("deliverd", "relayhost_user", "someone")
    a.start()
    a.ctl("sendmail", "-f", "alice@a.test", "x@elsewhere.test",
          input="From: alice@a.test\nSubject: x\n\nbody\n")
    assert wait_for(lambda: "no TLS, so no AUTH" in a.log_text(), 30), a.log_text()[-3000:]
    assert not sink.messages()


def test_dsn_parameters_passed_on(pair):
    """NOTIFY, ORCPT, RET and ENVID given to A's smtpd reach the next hop."""
    a, b = pair
    sink = Sink("127.0.0.2", b.port("smtp"), os.path.join(a.dir, "sink"))
    a.extra.append(sink)
    a.extra.append(Dns(a.dns_port, ["--mx-host=b.test,mx.b.test,10",
                                    "--address=/mx.b.test/127.0.0.2"]))
    a.start()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", a.port("submission"), timeout=30) as s:
        s.starttls(context=ctx)
        s.login("alice@a.test", "alice-pw-1")
        s.sendmail("alice@a.test", ["bob@b.test"], b"From: alice@a.test\r\nSubject: dsn\r\n\r\nx\r\n",
                   mail_options=["RET=HDRS", "ENVID=env42"],
                   rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@b.test"])
    assert wait_for(lambda: sink.messages(), 60), a.log_text()[-4000:]
    raw = open(sink.messages()[0], "rb").read()
    assert b"RET=HDRS" in raw and b"ENVID=env42" in raw, raw[:400]
    assert b"NOTIFY=SUCCESS,FAILURE" in raw and b"ORCPT=rfc822;bob@b.test" in raw, raw[:400]


def test_reload_applies_a_changed_deliverd_conf(pair):
    """deliverd.conf is read at start; `mailctl reload` starts a new generation
    of both agents, and the old ones finish their jobs and exit. Here the first
    agent sends to a port where nobody listens (the message is deferred); after
    the fix and a reload the message goes out."""
    a, b = pair
    a.set_conf("deliverd", "smtp_port", "9")
    a.extra.append(Dns(a.dns_port, ["--mx-host=b.test,mx.b.test,10",
                                    "--address=/mx.b.test/127.0.0.2"]))
    b.start()
    a.start()
    submit(a, "bob@b.test", BODY)
    assert wait_for(lambda: "status=deferred" in a.log_text(), 60), a.log_text()[-3000:]
    old = {l.split()[0]: l.split()[1] for l in a.ctl("status").stdout.splitlines()[1:]}
    a.set_conf("deliverd", "smtp_port", str(b.port("smtp")))
    r = a.ctl("reload")
    assert "reloaded" in r.stdout + r.stderr
    a.ctl("queue", "flush")
    assert wait_for(lambda: maildir_files(b, "bob@b.test"), 60), a.log_text()[-4000:]

    def replaced():
        now = [l.split() for l in a.ctl("status").stdout.splitlines()[1:]]
        pids = {f[0]: f[1] for f in now if f[-1] == "running"}
        return (all(pids.get(n) not in (None, old[n]) for n in ("deliverd-local", "deliverd-remote"))
                and not any(f[-1] == "draining" for f in now))
    assert wait_for(replaced, 30), a.ctl("status").stdout
    log = a.log_text()
    assert "local delivery agent drained" in log and "remote delivery agent drained" in log
