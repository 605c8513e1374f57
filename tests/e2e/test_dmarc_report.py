"""DMARC aggregate reports (RFC 7489 7.2) end to end: messages signed by dkimpy
arrive on the MX port of a real instance whose DNS (dnsmasq) publishes DMARC
records with rua= addresses; smtpd sends one record per evaluation to queued,
which keeps them in spool/dmarc/records; `mailctl dmarc report` aggregates
them, writes RFC 7489 appendix C XML (checked with xmllint against the schema
in tests/data), and mails each report through the queue to the rua address:

  rep.test     rua=mailto:dmarc@rep.test       same domain: sent
  ext.test     rua=mailto:reports@example.test external, authorised by
                                               ext.test._report._dmarc.example.test
  noauth.test  rua=mailto:reports@example.test external, not authorised: nothing sent

Clients connect from loopback, which other.test's SPF record authorises, so
the SPF identity (MAIL FROM bounce@other.test) passes but does not align."""
import email
import gzip
import os
import re
import subprocess
import xml.etree.ElementTree as ET

import dkim
import pytest

from conftest import IS_ROOT, wait_for
from test_mailauth import SEL, make_key, message, send, sign
from test_remote import DNSMASQ, SINK, Dns, Sink, txt_arg

pytestmark = pytest.mark.skipif(not os.path.exists(DNSMASQ), reason="needs dnsmasq")

XSD = os.path.join(os.path.dirname(__file__), "..", "data", "rfc7489-dmarc.xsd")


@pytest.fixture
def mx(new_instance):
    inst = new_instance()
    inst.init()
    key, txt = make_key(inst.dir)
    dns_port = 14000 + os.getpid() % 1000
    inst.set_conf("tern", "dns_server", f"127.0.0.1:{dns_port}")
    inst.set_conf("smtpd", "trusted_networks", "")
    records = ["--address=/#/"]
    for dom in ("rep.test", "ext.test", "noauth.test"):
        records.append(txt_arg(f"{SEL}._domainkey.{dom}", txt))
    records += ["--txt-record=other.test,v=spf1 ip4:127.0.0.0/8 ip6:::1 -all",
                "--txt-record=_dmarc.rep.test,v=DMARC1; p=none; rua=mailto:dmarc@rep.test",
                "--txt-record=_dmarc.ext.test,v=DMARC1; p=quarantine; adkim=s; "
                "rua=mailto:reports@example.test",
                "--txt-record=ext.test._report._dmarc.example.test,v=DMARC1",
                "--txt-record=_dmarc.noauth.test,v=DMARC1; p=reject; "
                "rua=mailto:reports@example.test",
                # far.test reports to a remote collector, which authorises it.
                "--txt-record=_dmarc.far.test,v=DMARC1; p=none; rua=mailto:agg@collector.test",
                "--txt-record=far.test._report._dmarc.collector.test,v=DMARC1",
                "--mx-host=collector.test,mx.collector.test,10",
                "--address=/mx.collector.test/127.0.0.2"]
    inst.sink_port = 17000 + os.getpid() % 1000
    inst.set_conf("deliverd", "smtp_port", str(inst.sink_port))
    inst.dns = Dns(dns_port, records)
    inst.key = key
    inst.ctl("domain", "add", "rep.test")
    inst.add_user("bob@example.test", "bob-pw-1")
    inst.add_user("reports@example.test", "rep-pw-1")
    inst.add_user("dmarc@rep.test", "dm-pw-1")
    yield inst
    inst.dns.stop()


def records_path(inst):
    return os.path.join(inst.dir, "spool", "dmarc", "records")


def send_mix(inst):
    """Six evaluations: rep.test 2 pass + 1 fail, ext.test 1 pass + 1 fail
    (quarantine), noauth.test 1 fail (rejected)."""
    for i in range(2):
        code, _ = send(inst, "bounce@other.test",
                       sign(inst, message("a@rep.test", f"r{i}"), "rep.test"))
        assert code == 250
    assert send(inst, "bounce@other.test", message("a@rep.test", "r2"))[0] == 250
    assert send(inst, "bounce@other.test",
                sign(inst, message("a@ext.test", "e1"), "ext.test"))[0] == 250
    assert send(inst, "bounce@other.test", message("a@ext.test", "e2"))[0] == 250
    assert send(inst, "bounce@other.test", message("a@noauth.test", "n1"))[0] == 550
    # smtpd does not wait for queued to take a record: let the last one land.
    assert wait_for(lambda: len(log_lines(inst)) == 6, 10), log_lines(inst)


def log_lines(inst):
    try:
        with open(records_path(inst)) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def test_each_evaluation_is_recorded(mx):
    mx.start()
    send_mix(mx)
    lines = log_lines(mx)
    assert len(lines) == 6, lines
    assert all(l.startswith("D1\t") for l in lines)
    fields = [l.split("\t") for l in lines]
    rej = [f for f in fields if f[4] == "noauth.test"]
    assert len(rej) == 1 and rej[0][5] == "reject" and rej[0][11] == "reject", rej
    # rep.test, signed: DKIM-aligned pass, SPF (other.test) not aligned.
    rep = [f for f in fields if f[4] == "rep.test"]
    assert sorted((f[12], f[13]) for f in rep) == [("0", "0"), ("1", "0"), ("1", "0")], rep
    assert all(f[16] == "example.test" and f[15] == "other.test" for f in rep)
    if IS_ROOT:
        st = os.stat(records_path(mx))
        assert st.st_mode & 0o777 == 0o600


def wait_mail(inst, address, count=1):
    d = os.path.join(inst.maildir(address), "new")
    ok = wait_for(lambda: os.path.isdir(d) and len(os.listdir(d)) >= count, 30)
    assert ok, f"nothing in {d}\n" + inst.log_text()[-3000:]
    return [email.message_from_bytes(open(os.path.join(d, n), "rb").read())
            for n in sorted(os.listdir(d))]


def validate(path):
    xml = gzip.decompress(open(path, "rb").read())
    plain = path[:-3]
    with open(plain, "wb") as f:
        f.write(xml)
    p = subprocess.run(["xmllint", "--noout", "--schema", XSD, plain], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return ET.fromstring(xml)


def rows(doc):
    """{(disposition, dkim, spf): count} and the auth results, per record."""
    out = {}
    for rec in doc.findall("record"):
        pe = rec.find("row/policy_evaluated")
        key = (pe.findtext("disposition"), pe.findtext("dkim"), pe.findtext("spf"))
        out[key] = out.get(key, 0) + int(rec.findtext("row/count"))
        assert rec.findtext("row/source_ip") == "127.0.0.1"
        assert rec.findtext("identifiers/envelope_to") == "example.test"
        assert rec.findtext("identifiers/envelope_from") == "other.test"
        assert rec.findtext("identifiers/header_from") == doc.findtext("policy_published/domain")
        assert rec.findtext("auth_results/spf/domain") == "other.test"
        assert rec.findtext("auth_results/spf/scope") == "mfrom"
        assert rec.findtext("auth_results/spf/result") == "pass"
    return out


def test_report_validates_counts_and_is_delivered(mx, tmp_path):
    mx.start()
    send_mix(mx)
    out = tmp_path / "reports"
    out.mkdir()
    r = mx.ctl("dmarc", "report", "--output", str(out))
    lines = r.stdout.splitlines()
    files = {}
    for l in lines:
        m = re.match(r"report domain=(\S+) id=(\S+) messages=(\d+) rows=(\d+) file=(\S+)$", l)
        if m:
            files[m.group(1)] = (m.group(2), int(m.group(3)), out / m.group(5))
    assert set(files) == {"rep.test", "ext.test", "noauth.test"}, r.stdout
    assert files["rep.test"][1] == 3 and files["ext.test"][1] == 2 and files["noauth.test"][1] == 1
    # The file name of RFC 7489 7.2.1.1: receiver!policy-domain!begin!end!unique.xml.gz
    assert re.match(r"mx\.example\.test!rep\.test!\d+!\d+![0-9a-f]+\.xml\.gz$",
                    files["rep.test"][2].name)

    docs = {d: validate(str(f[2])) for d, f in files.items()}
    rep = docs["rep.test"]
    assert rep.findtext("version") == "1.0"
    assert rep.findtext("report_metadata/org_name") == "mx.example.test"
    assert rep.findtext("report_metadata/email") == "noreply-dmarc@mx.example.test"
    assert rep.findtext("report_metadata/report_id") == files["rep.test"][0]
    assert rep.findtext("policy_published/domain") == "rep.test"
    assert rep.findtext("policy_published/p") == "none"
    assert rows(rep) == {("none", "pass", "fail"): 2, ("none", "fail", "fail"): 1}
    signed = [rec for rec in rep.findall("record") if rec.find("auth_results/dkim") is not None]
    assert [(s.findtext("auth_results/dkim/domain"), s.findtext("auth_results/dkim/selector"),
             s.findtext("auth_results/dkim/result")) for s in signed] == [("rep.test", SEL, "pass")]
    assert rows(docs["ext.test"]) == {("none", "pass", "fail"): 1, ("quarantine", "fail", "fail"): 1}
    assert docs["ext.test"].findtext("policy_published/adkim") == "s"
    assert rows(docs["noauth.test"]) == {("reject", "fail", "fail"): 1}

    assert "rua domain=rep.test to=dmarc@rep.test status=sent" in lines
    assert "rua domain=ext.test to=reports@example.test status=sent" in lines
    assert any(l.startswith("rua domain=noauth.test to=reports@example.test status=refused")
               and "noauth.test._report._dmarc.example.test" in l for l in lines), lines

    # Delivered as a gzip attachment; the unauthorised destination got nothing.
    for addr, dom in (("dmarc@rep.test", "rep.test"), ("reports@example.test", "ext.test")):
        msgs = wait_mail(mx, addr)
        assert len(msgs) == 1
        msg = msgs[0]
        assert msg["Subject"] == (f"Report Domain: {dom} Submitter: mx.example.test "
                                  f"Report-ID: <{files[dom][0]}>")
        parts = [p for p in msg.walk() if p.get_content_type() == "application/gzip"]
        assert len(parts) == 1 and parts[0].get_filename() == files[dom][2].name
        assert gzip.decompress(parts[0].get_payload(decode=True)) == \
            gzip.decompress(files[dom][2].read_bytes())

    # Rotated: the next run has nothing, and new mail starts a new log.
    assert not os.path.exists(records_path(mx))
    r = mx.ctl("dmarc", "report")
    assert r.stdout.strip() == "no records"
    assert send(mx, "bounce@other.test", message("a@rep.test", "r9"))[0] == 250
    assert wait_for(lambda: len(log_lines(mx)) == 1, 10)


def test_dry_run_sends_and_rotates_nothing(mx, tmp_path):
    mx.start()
    assert send(mx, "bounce@other.test", message("a@rep.test", "d1"))[0] == 250
    assert wait_for(lambda: len(log_lines(mx)) == 1, 10)
    r = mx.ctl("dmarc", "report", "--dry-run", "--output", str(tmp_path))
    assert "rua domain=rep.test to=dmarc@rep.test status=dry-run" in r.stdout.splitlines()
    assert len(log_lines(mx)) == 1
    files = list(tmp_path.glob("*.xml.gz"))
    assert len(files) == 1
    validate(str(files[0]))
    assert not os.listdir(os.path.join(mx.maildir("dmarc@rep.test"), "new"))


def test_size_limit_and_bad_lines(mx):
    """A rua with a !size limit smaller than the report gets nothing; a damaged
    line in the log is skipped, the good ones are reported."""
    mx.set_conf("tern", "dmarc_report_from", "postmaster@example.test")
    mx.start()
    assert send(mx, "bounce@other.test", message("a@rep.test", "z1"))[0] == 250
    assert wait_for(lambda: len(log_lines(mx)) == 1, 10)
    with open(records_path(mx), "a") as f:
        f.write("D1\tgarbage\n")
    line = log_lines(mx)[0].replace("mailto:dmarc@rep.test", "mailto:dmarc@rep.test!1k")
    with open(records_path(mx), "a") as f:
        f.write(line + "\n")
    r = mx.ctl("dmarc", "report")
    assert "report domain=rep.test" in r.stdout and "messages=2" in r.stdout, r.stdout
    assert "1 malformed record line(s) skipped" in r.stderr
    assert "status=refused reason=\"report of" in r.stdout and "!1024 limit" in r.stdout


def test_master_runs_the_report_on_schedule(mx):
    mx.set_conf("tern", "dmarc_report_interval", "2s")
    mx.ctl("dmarc", "report")      # an earlier run by hand (as root) changes nothing
    mx.start()
    assert send(mx, "bounce@other.test", sign(mx, message("a@rep.test", "s1"), "rep.test"))[0] == 250
    msgs = wait_mail(mx, "dmarc@rep.test")
    assert msgs[0]["Subject"].startswith("Report Domain: rep.test Submitter: mx.example.test")
    log = mx.log_text()
    assert "dmarc-report" in log and "rua domain=rep.test to=dmarc@rep.test status=sent" in log
    assert wait_for(lambda: "dmarc report: pid=" in mx.log_text() and " done" in mx.log_text(), 10)
    # The run was not root: it ran as the queue's account (its lock file says so).
    if IS_ROOT:
        import pwd
        st = os.stat(os.path.join(mx.dir, "spool", "dmarc", "report.lock"))
        assert pwd.getpwuid(st.st_uid).pw_name == "tern-queued"


QUEUE_DMARC_RECORD = 210    # common/queue_proto.h


def record_msg(pct=100, truncated=False):
    import ternipc as ipc
    m = ipc.Msg(QUEUE_DMARC_RECORD)
    m.fields.append((ipc.T_U64, 1795000000))
    m.str("192.0.2.9").str("forged.test").str("forged.test")
    if truncated:
        return m
    m.u32(0).u32(0).u32(pct).u32(ord("r")).u32(ord("r")).str("0").u32(0).u32(0)
    m.str("").str("other.test").str("example.test").str("other.test").str("pass").u32(0)
    m.str("mailto:x@forged.test")
    return m


def queue_conn(inst):
    import socket
    import ternipc as ipc
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(os.path.join(inst.dir, "run", "queue.sock"))
    return ipc.Conn(s)


def still_served(c):
    import ternipc as ipc
    c.send(ipc.Msg(ipc.QUEUE_NEW_REQ, 5))
    r = c.recv()
    if r is None:
        return False
    assert r.type == ipc.QUEUE_NEW_RES
    if r.fd is not None:
        os.close(r.fd)
    return True


def test_queue_checks_records_it_is_sent(mx):
    """A record with a bad field is logged and dropped (the sender's connection
    stays: smtpd's transactions on it go on); a malformed one closes the
    connection; an ordinary local user may not send records at all."""
    mx.start()
    c = queue_conn(mx)
    c.send(record_msg(pct=500))
    assert still_served(c)
    assert wait_for(lambda: "DMARC record from uid" in mx.log_text(), 10)
    c = queue_conn(mx)
    c.send(record_msg(truncated=True))
    assert c.recv() is None
    c = queue_conn(mx)
    c.send(record_msg())          # a good one from a trusted peer is kept
    assert still_served(c)
    assert wait_for(lambda: len(log_lines(mx)) == 1, 10)
    if IS_ROOT:
        code = ("import os, sys; sys.path.insert(0, %r); os.setgid(65534); os.setuid(65534); "
                "import test_dmarc_report as t; c = t.queue_conn(t.Inst()); "
                "c.send(t.record_msg()); sys.exit(0 if c.recv() is None else 1)"
                % os.path.dirname(__file__))
        env = dict(os.environ, TERN_TEST_INST=mx.dir)
        p = subprocess.run(["/usr/bin/python3", "-c", code], env=env, timeout=60,
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert len(log_lines(mx)) == 1


class Inst:
    """The instance directory of a test, for the unprivileged helper above."""
    dir = os.environ.get("TERN_TEST_INST", "")


def test_log_size_limit(mx):
    mx.set_conf("queued", "dmarc_log_max", "700")
    mx.start()
    for i in range(5):
        assert send(mx, "bounce@other.test", message("a@rep.test", f"l{i}"))[0] == 250
    assert wait_for(lambda: "reached dmarc_log_max" in mx.log_text(), 10), mx.log_text()[-2000:]
    assert 0 < os.path.getsize(records_path(mx)) <= 700
    kept = len(log_lines(mx))
    assert 1 <= kept < 5
    # Reporting empties the log: recording starts again.
    r = mx.ctl("dmarc", "report")
    assert f"messages={kept}" in r.stdout
    assert send(mx, "bounce@other.test", message("a@rep.test", "l9"))[0] == 250
    assert wait_for(lambda: len(log_lines(mx)) == 1, 10)
    assert wait_for(lambda: "DMARC records: recording again" in mx.log_text(), 10)


@pytest.mark.skipif(not os.path.exists(SINK), reason="needs smtp-sink (postfix)")
def test_report_to_a_remote_collector(mx):
    """An authorised external rua in another domain: the report leaves through
    the remote delivery agent (MX lookup) to the collector's server."""
    # (a dump directory smtp-sink, running as nobody, can reach)
    sink = Sink("127.0.0.2", mx.sink_port, os.path.join(mx.dir, "sink"))
    out = mx.ctl("dkim", "keygen", "example.test", "--selector", "rpt", "--algorithm",
                 "ed25519").stdout
    key_txt = "".join(out.split('"')[1::2])
    try:
        mx.start()
        assert send(mx, "bounce@other.test", message("a@far.test", "f1"))[0] == 250
        assert wait_for(lambda: len(log_lines(mx)) == 1, 10)
        r = mx.ctl("dmarc", "report")
        assert "rua domain=far.test to=agg@collector.test status=sent" in r.stdout, r.stdout
        assert wait_for(lambda: len(sink.messages()) == 1, 30), mx.log_text()[-3000:]
        msg = email.message_from_bytes(sink.message())
        assert msg["Subject"].startswith("Report Domain: far.test Submitter: mx.example.test")
        part = [p for p in msg.walk() if p.get_content_type() == "application/gzip"][0]
        doc = ET.fromstring(gzip.decompress(part.get_payload(decode=True)))
        assert doc.findtext("policy_published/domain") == "far.test"
        assert doc.findtext("record/row/count") == "1"
        # DKIM-signed like other outbound mail: the sender noreply-dmarc@mx.example.test
        # is under example.test, whose key signs it (d=example.test, relaxed alignment)
        raw = sink.message()
        body = raw[raw.index(b"DKIM-Signature"):]
        assert re.search(rb"\bd=example\.test;", body[:600]), body[:600]
        records = {b"rpt._domainkey.example.test.": key_txt.encode()}
        assert dkim.verify(body, dnsfunc=lambda n, timeout=5: records.get(n)), body[:600]
    finally:
        sink.stop()


def test_reports_wait_in_the_outbox_while_the_queue_is_down(mx):
    mx.start()
    assert send(mx, "bounce@other.test", message("a@rep.test", "o1"))[0] == 250
    assert wait_for(lambda: len(log_lines(mx)) == 1, 10)
    mx.stop()
    r = mx.ctl("dmarc", "report", check=False)
    assert r.returncode == 75, (r.stdout, r.stderr)
    assert "rua domain=rep.test to=dmarc@rep.test status=deferred" in r.stdout, r.stdout
    outbox = os.path.join(mx.dir, "spool", "dmarc", "outbox")
    assert len(os.listdir(outbox)) == 1
    if IS_ROOT:   # made by root, but the scheduled runs (tern-queued) must finish it
        import pwd
        run = os.path.join(outbox, os.listdir(outbox)[0])
        for p in (outbox, run, *[os.path.join(run, n) for n in os.listdir(run)]):
            assert pwd.getpwuid(os.stat(p).st_uid).pw_name == "tern-queued", p
    assert not os.path.exists(records_path(mx))   # the records are in the report now
    mx.start()
    r = mx.ctl("dmarc", "report")
    assert "rua domain=rep.test to=dmarc@rep.test status=sent" in r.stdout, r.stdout
    assert "no records" in r.stdout
    assert len(wait_mail(mx, "dmarc@rep.test")) == 1
    assert os.listdir(outbox) == []
    r = mx.ctl("dmarc", "report")
    assert r.stdout.strip() == "no records"       # sent once, never again
