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

Clients connect from loopback, where libspf2 always says pass, so the SPF
identity (MAIL FROM bounce@other.test) passes but does not align."""
import email
import gzip
import os
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import IS_ROOT, wait_for
from test_mailauth import SEL, make_key, message, send, sign
from test_remote import DNSMASQ, Dns, txt_arg

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
    records += ["--txt-record=_dmarc.rep.test,v=DMARC1; p=none; rua=mailto:dmarc@rep.test",
                "--txt-record=_dmarc.ext.test,v=DMARC1; p=quarantine; adkim=s; "
                "rua=mailto:reports@example.test",
                "--txt-record=ext.test._report._dmarc.example.test,v=DMARC1",
                "--txt-record=_dmarc.noauth.test,v=DMARC1; p=reject; "
                "rua=mailto:reports@example.test"]
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
