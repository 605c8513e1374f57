"""Remote delivery (deliverd --remote): MX routing through a real DNS server
(dnsmasq on loopback), Postfix's smtp-sink as the receiving peer, DKIM
signatures checked by dkimpy, DSNs for permanent failures.

The queue and the local agent are the real daemons; until the master is on
main the auth channel is tests/e2e/fake_authd.py (see queue_env.py)."""
import glob
import os
import pwd
import re
import signal
import subprocess
import time

import dkim
import pytest

from conftest import IS_ROOT, wait_for
from queue_env import QueueEnv

SINK = "/usr/sbin/smtp-sink"
DNSMASQ = "/usr/sbin/dnsmasq"
pytestmark = pytest.mark.skipif(not (os.path.exists(SINK) and os.path.exists(DNSMASQ)),
                                reason="needs postfix (smtp-sink) and dnsmasq: run tools/deps.sh")


class Dns:
    """dnsmasq serving exactly the records a test names; everything else NXDOMAIN."""

    def __init__(self, port, records, prefix=(), addr="127.0.0.1"):
        """prefix: a command to run dnsmasq under (e.g. ip netns exec NS),
        listening on addr there."""
        self.port = port
        args = [DNSMASQ, "-k", "--no-resolv", "--no-hosts", "--no-poll", f"--port={port}",
                f"--listen-address={addr}", "--bind-interfaces", "--pid-file=",
                "--log-facility=/dev/null", "--address=/#/"]
        if IS_ROOT:
            args.append("--user=root")
        self.proc = subprocess.Popen(list(prefix) + args + records)
        time.sleep(0.3)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Sink:
    """smtp-sink on ADDR:PORT dumping each transaction into its own file."""

    def __init__(self, addr, port, dumpdir, *flags):
        os.makedirs(dumpdir, exist_ok=True)
        os.chmod(dumpdir, 0o777)
        self.dir = dumpdir
        self.done = set()
        args = [SINK, "-d", os.path.join(dumpdir, "%H%M%S."), *flags]
        if IS_ROOT:
            args += ["-u", "nobody"]
        self.proc = subprocess.Popen(args + [f"{addr}:{port}", "50"], stderr=subprocess.DEVNULL)
        assert wait_for(lambda: port_open(addr, port), 10), "smtp-sink did not start"

    def messages(self):
        """Complete dumps only (smtp-sink writes the file as data arrives)."""
        out = []
        for p in sorted(glob.glob(os.path.join(self.dir, "*"))):
            if p not in self.done:
                s1 = os.path.getsize(p)
                time.sleep(0.2)
                if s1 == 0 or os.path.getsize(p) != s1:
                    continue
                self.done.add(p)
            out.append(p)
        return out

    def message(self, i=0):
        """Dump i with CRLF line endings (smtp-sink writes LF), from our first header."""
        raw = open(self.messages()[i], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        return raw

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def port_open(addr, port):
    import socket
    try:
        with socket.create_connection((addr, port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_account(name):
    if IS_ROOT:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", name], check=True)


def txt_arg(name, value):
    """dnsmasq --txt-record with the value split into <=250-byte strings."""
    parts = [value[i:i + 250] for i in range(0, len(value), 250)]
    return f"--txt-record={name}," + ",".join(parts)


@pytest.fixture
def env(tmp_parent):
    """Sender side: queue + local + remote agents; domain a.test is local."""
    dns_port = 15000 + os.getpid() % 1000
    sink_port = 16000 + os.getpid() % 1000
    e = QueueEnv(tmp_parent, name="a", hostname="mx.a.test", domain="a.test",
                 deliverd_conf={"smtp_port": sink_port, "smtp_tls": "may"})
    with open(e.path("tern.conf"), "a") as f:
        f.write(f"dns_server = 127.0.0.1:{dns_port}\n")
    ensure_account("tern-deliverd")
    e.add_user("alice@a.test")
    e.dns_port, e.sink_port = dns_port, sink_port
    e.extra = []
    yield e
    e.stop()
    for x in e.extra:
        x.stop()


def start_remote(e):
    e._spawn("remote", [os.path.join(os.environ.get("TERN_BIN"), "tern-deliverd"), "-c", e.dir,
                        "--remote"])
    assert wait_for(lambda: "connected to queued as the remote delivery agent" in e.log_text(),
                    60), e.log_text()[-3000:]


def start_all(e, records, sink_flags=(), sink_addr="127.0.0.2"):
    e.extra.append(Dns(e.dns_port, records))
    sink = Sink(sink_addr, e.sink_port, e.path("sink"), *sink_flags)
    e.extra.append(sink)
    e.start()
    start_remote(e)
    return sink


MSG = ("From: Alice <alice@a.test>\nTo: bob@b.test\nSubject: remote test\n"
       "Message-ID: <r1@a.test>\n\nHello Bob,\n.a line with a leading dot\nbye\n")


def test_mx_delivery_with_dkim_rsa_and_ed25519(env):
    rsa = env.ctl("dkim", "keygen", "a.test", "--selector", "r1").stdout
    txt = "".join(p for p in rsa.split('"')[1::2])
    assert txt.startswith("v=DKIM1; k=rsa;")
    sink = start_all(env, ["--mx-host=b.test,mx.b.test,10", "--address=/mx.b.test/127.0.0.2",
                           txt_arg("r1._domainkey.a.test", txt)])
    env.sendmail("-f", "alice@a.test", "bob@b.test", input=MSG)
    assert wait_for(lambda: len(sink.messages()) == 1, 30), env.log_text()[-3000:]
    raw = sink.message()
    assert b"DKIM-Signature" in raw, raw[:800]
    body = raw[raw.index(b"DKIM-Signature"):]
    assert b"Hello Bob,\r\n.a line with a leading dot\r\n" in body   # dot-stuffing undone by the peer
    records = {b"r1._domainkey.a.test.": txt.encode()}
    assert dkim.verify(body, dnsfunc=lambda n, timeout=5: records.get(n)), body[:600]
    assert "status=sent" in env.log_text()


def test_ed25519_signature(env):
    out = env.ctl("dkim", "keygen", "a.test", "--selector", "e1", "--algorithm", "ed25519").stdout
    txt = "".join(p for p in out.split('"')[1::2])
    assert "k=ed25519" in txt
    sink = start_all(env, ["--mx-host=b.test,mx.b.test,10", "--address=/mx.b.test/127.0.0.2"])
    env.sendmail("-f", "alice@a.test", "bob@b.test", input=MSG)
    assert wait_for(lambda: len(sink.messages()) == 1, 30), env.log_text()[-3000:]
    raw = sink.message()
    body = raw[raw.index(b"DKIM-Signature"):]
    assert b"a=ed25519-sha256" in body
    records = {b"e1._domainkey.a.test.": txt.encode()}
    assert dkim.verify(body, dnsfunc=lambda n, timeout=5: records.get(n))


def test_mx_fallback_to_second_host(env):
    sink = start_all(env, ["--mx-host=b.test,mx1.b.test,10", "--mx-host=b.test,mx2.b.test,20",
                           "--address=/mx1.b.test/127.0.0.3", "--address=/mx2.b.test/127.0.0.2"])
    env.sendmail("-f", "alice@a.test", "bob@b.test", input=MSG)
    assert wait_for(lambda: len(sink.messages()) == 1, 30), env.log_text()[-3000:]
    assert "mx1.b.test[127.0.0.3]" in env.log_text()     # the first MX was tried


def test_null_mx_bounces(env):
    start_all(env, ["--mx-host=b.test,.,0"])
    env.sendmail("-f", "alice@a.test", "bob@b.test", input=MSG)
    files = env.wait_mail("alice@a.test", 1, timeout=30)
    dsn = open(files[0], errors="replace").read()
    assert "multipart/report" in dsn and "5.1.10" in dsn


def test_5xx_peer_bounces_with_remote_reply(env):
    start_all(env, ["--mx-host=b.test,mx.b.test,10", "--address=/mx.b.test/127.0.0.2"],
              sink_flags=("-f", "RCPT"))
    env.sendmail("-f", "alice@a.test", "bob@b.test", input=MSG)
    files = env.wait_mail("alice@a.test", 1, timeout=30)
    dsn = open(files[0], errors="replace").read()
    assert "Error: command failed" in dsn and "127.0.0.2" in dsn


def test_4xx_peer_defers_then_retry_delivers(env):
    env.set_conf("queued", "minimal_backoff_time", "2s")
    env.set_conf("queued", "maximal_backoff_time", "2s")
    refusing = start_all(env, ["--mx-host=b.test,mx.b.test,10", "--address=/mx.b.test/127.0.0.2"],
                         sink_flags=("-r", "RCPT"))
    env.sendmail("-f", "alice@a.test", "bob@b.test", input=MSG)
    assert wait_for(lambda: "status=deferred" in env.log_text(), 30), env.log_text()[-3000:]
    lines = env.queue_list()
    assert len(lines) == 1 and "bob@b.test" in lines[0]
    assert not env.maildir_files("alice@a.test")        # no bounce for a temporary failure
    # The peer recovers: the retry delivers it.
    refusing.stop()
    env.extra.remove(refusing)
    sink = Sink("127.0.0.2", env.sink_port, env.path("sink2"))
    env.extra.append(sink)
    assert wait_for(lambda: len(sink.messages()) == 1, 60), env.log_text()[-3000:]
    assert wait_for(lambda: not env.queue_list(), 30)


def test_connection_reuse(env):
    """Three messages to one destination travel over one SMTP session: the peer's
    own counters (smtp-sink -c) show 3 messages and at most 1 session."""
    env.extra.append(Dns(env.dns_port, ["--mx-host=b.test,mx.b.test,10",
                                        "--address=/mx.b.test/127.0.0.2"]))
    counters = open(env.path("sink-counters"), "wb")
    args = [SINK, "-c", "-u", "nobody"] if IS_ROOT else [SINK, "-c"]
    sink = subprocess.Popen(args + [f"127.0.0.2:{env.sink_port}", "50"], stdout=counters)
    assert wait_for(lambda: port_open("127.0.0.2", env.sink_port), 10)
    try:
        env.start()
        start_remote(env)
        for i in range(3):
            env.sendmail("-f", "alice@a.test", "bob@b.test", input=MSG)
            assert wait_for(lambda: env.log_text().count("relay=mx.b.test") == i + 1, 30)
        parts = [p for p in open(env.path("sink-counters"), "rb").read().split(b"\r") if p.strip()]
        assert parts, "smtp-sink printed no counters"
        last = parts[-1].decode()
        fields = dict(kv.split("=") for kv in last.split())
        assert fields["mesg"] == "3" and int(fields["sess"]) <= 1, last
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def test_tls_encrypt_refuses_peer_without_starttls(env):
    env.set_conf("deliverd", "smtp_tls_policy", "b.test=encrypt")
    sink = start_all(env, ["--mx-host=b.test,mx.b.test,10", "--address=/mx.b.test/127.0.0.2"])
    env.sendmail("-f", "alice@a.test", "bob@b.test", input=MSG)
    assert wait_for(lambda: "status=deferred" in env.log_text(), 30), env.log_text()[-3000:]
    assert "offered no STARTTLS" in env.log_text()
    assert not sink.messages()                           # nothing went out in clear text
    assert len(env.queue_list()) == 1


def test_peer_without_pipelining(env):
    sink = start_all(env, ["--mx-host=b.test,mx.b.test,10", "--address=/mx.b.test/127.0.0.2"],
                     sink_flags=("-p",))
    env.sendmail("-f", "alice@a.test", "bob@b.test", "carol@b.test", input=MSG)
    assert wait_for(lambda: len(sink.messages()) == 1, 30), env.log_text()[-3000:]
    raw = open(sink.messages()[0], "rb").read()
    assert b"X-Rcpt-Args: <bob@b.test>" in raw and b"X-Rcpt-Args: <carol@b.test>" in raw


def test_mx_pointing_at_ourselves_bounces_as_loop(env):
    start_all(env, ["--mx-host=b.test,mx.a.test,10", "--address=/mx.a.test/127.0.0.1"])
    env.sendmail("-f", "alice@a.test", "bob@b.test", input=MSG)
    files = env.wait_mail("alice@a.test", 1, timeout=30)
    dsn = open(files[0], errors="replace").read()
    assert "5.4.6" in dsn and "loops back to myself" in dsn


def test_alias_to_a_remote_address_is_forwarded(env):
    """An alias naming an address elsewhere: the local agent queues a copy with
    the original envelope sender and Delivered-To on top; the local target
    still gets its copy."""
    env.add_user("bob@a.test")
    env.add_alias("team@a.test", ["bob@a.test", "Carol@b.test"])
    sink = start_all(env, ["--mx-host=b.test,mx.b.test,10", "--address=/mx.b.test/127.0.0.2"])
    env.sendmail("-f", "alice@a.test", "team+x@a.test", input=MSG)
    assert wait_for(lambda: len(sink.messages()) == 1, 30), env.log_text()[-3000:]
    raw = sink.message()
    assert b"X-Mail-Args: <alice@a.test>" in raw, raw[:600]
    assert b"X-Rcpt-Args: <carol@b.test>" in raw
    assert b"Delivered-To: team+x@a.test\r\n" in raw
    assert b"Hello Bob,\r\n.a line with a leading dot\r\nbye\r\n" in raw
    assert len(env.wait_mail("bob@a.test")) == 1
    log = env.log_text()
    assert "relay=forward, status=sent" in log and "forwarded team+x@a.test" in log


def test_forwarding_loop_bounces(env):
    """A message that already passed through the alias is not forwarded again:
    5.4.6 back to the sender, nothing sent out."""
    env.add_alias("away@a.test", ["carol@b.test"])
    sink = start_all(env, ["--mx-host=b.test,mx.b.test,10", "--address=/mx.b.test/127.0.0.2"])
    env.sendmail("-f", "alice@a.test", "away@a.test",
                 input="Delivered-To: away@a.test\n" + MSG)
    bounces = env.wait_mail("alice@a.test")
    assert len(bounces) == 1
    dsn = open(bounces[0], "rb").read()
    assert b"5.4.6" in dsn and b"forwarding loop for away@a.test" in dsn, dsn[:1500]
    env.wait_queue_empty()
    assert sink.messages() == []


def dkim_record(out, selector):
    """The TXT value of selector's record in mailctl's zone-file output."""
    line = next(x for x in out.splitlines() if x.startswith(f"{selector}._domainkey."))
    return "".join(line.split('"')[1::2])


def signature(sink, i, selector, txt):
    """Message i is signed with selector, and verifies with its record."""
    raw = sink.message(i)
    body = raw[raw.index(b"DKIM-Signature"):]
    assert re.search(rb"\bs=" + selector.encode() + rb";", body[:600]), body[:600]
    records = {f"{selector}._domainkey.a.test.".encode(): txt.encode()}
    assert dkim.verify(body, dnsfunc=lambda n, timeout=5: records.get(n)), body[:600]


def test_dkim_rotate_switches_once_the_record_is_in_dns(env):
    out = env.ctl("dkim", "keygen", "a.test", "--selector", "s1", "--algorithm", "ed25519").stdout
    s1 = dkim_record(out, "s1")
    out = env.ctl("dkim", "rotate", "a.test", "--selector", "s2", "--algorithm", "ed25519").stdout
    assert "staged selector s2 for a.test" in out, out
    s2 = dkim_record(out, "s2")
    shown = env.ctl("dns", "a.test").stdout        # the staged record is shown to publish
    assert dkim_record(shown, "s2") == s2 and dkim_record(shown, "s1") == s1

    base = ["--mx-host=b.test,mx.b.test,10", "--address=/mx.b.test/127.0.0.2",
            txt_arg("s1._domainkey.a.test", s1)]
    sink = start_all(env, base)
    out = env.ctl("dkim", "rotate", "a.test").stdout
    assert "waiting for s2" in out, out                # not in DNS yet: no switch
    env.sendmail("-f", "alice@a.test", "bob@b.test", input=MSG)
    assert wait_for(lambda: len(sink.messages()) == 1, 30), env.log_text()[-3000:]
    signature(sink, 0, "s1", s1)

    env.extra[0].stop()                                # publish s2
    env.extra[0] = Dns(env.dns_port, base + [txt_arg("s2._domainkey.a.test", s2)])
    out = env.ctl("dkim", "rotate", "a.test").stdout
    assert "switched a.test to selector s2" in out and "s1 is retired" in out, out
    keys = sorted(os.listdir(env.path("dkim", "a.test")))
    assert keys == ["s1.retired", "s1.txt", "s2.key", "s2.txt"], keys
    assert dkim_record(env.ctl("dns", "a.test").stdout, "s1") == s1   # kept for the grace period

    env.kill("remote", signal.SIGTERM)                 # what the master's reload does
    started = env.log_text().count("connected to queued as the remote delivery agent")
    env._spawn("remote", [os.path.join(os.environ.get("TERN_BIN"), "tern-deliverd"), "-c",
                          env.dir, "--remote"])
    assert wait_for(lambda: env.log_text().count("connected to queued as the remote delivery "
                                                 "agent") > started, 60)
    time.sleep(1)                                      # smtp-sink names dumps by the second
    env.sendmail("-f", "alice@a.test", "bob@b.test", input=MSG.replace("r1@", "r2@"))
    assert wait_for(lambda: len(sink.messages()) == 2, 30), env.log_text()[-3000:]
    signature(sink, 1, "s2", s2)

    out = env.ctl("dkim", "rotate", "a.test").stdout
    assert "retiring s1: keep s1._domainkey.a.test published until" in out, out
    assert not [n for n in os.listdir(env.path("dkim", "a.test")) if n.endswith(".staged")]
    with open(env.path("dkim", "a.test", "s1.retired"), "w") as f:
        f.write("0\n")                                 # the grace period is over
    out = env.ctl("dkim", "rotate", "a.test").stdout
    assert "retired s1: remove this record from DNS:" in out and dkim_record(out, "s1") == s1
    assert "s1._domainkey" not in env.ctl("dns", "a.test").stdout
    assert sorted(os.listdir(env.path("dkim", "a.test"))) == ["s2.key", "s2.txt"]
