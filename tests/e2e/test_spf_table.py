"""SPF on the MX port with clients at chosen addresses.

This module runs a whole instance and dnsmasq inside a network namespace it
creates (ip netns), where the loopback interface also carries TEST-NET
addresses (192.0.2.0/24, 2001:db8::/32): each SMTP client binds the address a
case needs (loopback ones too: trusted_networks is empty). Each case checks the SMTP reply,
the Authentication-Results header and the folder the message landed in, and
every SPF result is cross-checked with pyspf (the reference implementation),
asked in the same namespace against the same DNS server."""
import os
import shutil
import smtplib
import subprocess

import pytest

from conftest import IS_ROOT, wait_for
from netns import Netns
from test_remote import DNSMASQ, Dns

pytestmark = pytest.mark.skipif(not (IS_ROOT and os.path.exists(DNSMASQ) and shutil.which("ip")),
                                reason="needs root (network namespace), ip and dnsmasq")

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "unit", "spf_reference.py")
GOOD, BAD = "192.0.2.10", "192.0.2.20"
GOOD6, BAD6 = "2001:db8::10", "2001:db8::20"

RECORDS = [
    "--txt-record=pass.test,v=spf1 ip4:192.0.2.10 -all",
    "--txt-record=fail.test,v=spf1 ip4:192.0.2.10 -all",
    "--txt-record=strict.test,v=spf1 ip4:192.0.2.10 -all",
    "--txt-record=soft.test,v=spf1 ip4:192.0.2.10 ~all",
    "--txt-record=neutral.test,v=spf1 ?all",
    "--txt-record=none.test,not an spf record",
    "--txt-record=perm.test,v=spf1 ip4:not-an-address -all",
    "--txt-record=inc.test,v=spf1 include:pass.test -all",
    "--txt-record=v6.test,v=spf1 ip6:2001:db8::10 -all",
    "--txt-record=helo.test,v=spf1 ip4:192.0.2.10 -all",
    "--server=/temp.test/127.0.0.1#9",  # nobody there: SERVFAIL -> temperror
    # DMARC on top of an SPF result (no DKIM signature in this module).
    "--txt-record=quar.test,v=spf1 ip4:192.0.2.10 -all",
    "--txt-record=_dmarc.quar.test,v=DMARC1; p=quarantine",
    "--txt-record=rej.test,v=spf1 ip4:192.0.2.10 ~all",
    "--txt-record=_dmarc.rej.test,v=DMARC1; p=reject",
    "--txt-record=ok.test,v=spf1 ip4:192.0.2.10 -all",
    "--txt-record=_dmarc.ok.test,v=DMARC1; p=reject",
]

# client address, HELO, MAIL FROM, SPF result, SMTP outcome, folder
# outcome: 250, "550 MAIL" (refused at MAIL FROM), or 550/451 at end of DATA.
CASES = [
    (GOOD, "client.test", "a@pass.test", "pass", 250, "INBOX"),
    (BAD, "client.test", "a@pass.test", "fail", 250, "INBOX"),
    (BAD, "client.test", "a@fail.test", "fail", 250, "INBOX"),        # spf_overrides fail.test=mark
    (BAD, "client.test", "a@strict.test", "fail", "550 MAIL", None),  # spf_fail_reject = yes
    (BAD, "client.test", "a@soft.test", "softfail", 250, "INBOX"),
    (BAD, "client.test", "a@neutral.test", "neutral", 250, "INBOX"),
    (BAD, "client.test", "a@none.test", "none", 250, "INBOX"),
    (GOOD, "client.test", "a@perm.test", "permerror", 250, "INBOX"),
    (GOOD, "client.test", "a@inc.test", "pass", 250, "INBOX"),
    (BAD, "client.test", "a@inc.test", "fail", "550 MAIL", None),
    (GOOD, "client.test", "a@temp.test", "temperror", 250, "INBOX"),
    (GOOD6, "client.test", "a@v6.test", "pass", 250, "INBOX"),
    (BAD6, "client.test", "a@v6.test", "fail", "550 MAIL", None),
    (GOOD, "helo.test", "", "pass", 250, "INBOX"),                   # null sender: HELO identity
    (BAD, "helo.test", "", "fail", "550 MAIL", None),
    (BAD, "client.test", "a@quar.test", "fail", 250, "Junk"),        # DMARC p=quarantine
    (BAD, "client.test", "a@rej.test", "softfail", 550, None),       # DMARC p=reject
    (GOOD, "client.test", "a@ok.test", "pass", 250, "INBOX"),        # DMARC pass via SPF
    # Loopback clients with trusted_networks empty: the record decides, as for
    # any address (libspf2 alone passes them all, and DMARC aligned on that).
    ("127.0.0.1", "client.test", "a@fail.test", "fail", 250, "INBOX"),
    ("127.0.0.1", "client.test", "a@rej.test", "softfail", 550, None),
    ("::1", "client.test", "a@v6.test", "fail", "550 MAIL", None),
]


@pytest.fixture(scope="module")
def netns():
    ns = Netns("spf", [GOOD, BAD, GOOD6, BAD6])
    yield ns
    ns.delete()


@pytest.fixture
def mx(new_instance, netns):
    inst = new_instance()
    inst.init()
    inst.prefix = netns.prefix
    dns_port = 14000 + os.getpid() % 1000
    inst.set_conf("tern", "dns_server", f"127.0.0.1:{dns_port}")
    inst.set_conf("tern", "listen", "127.0.0.1, ::1")
    inst.set_conf("smtpd", "trusted_networks", "")
    inst.set_conf("smtpd", "spf_fail_reject", "yes")
    inst.set_conf("smtpd", "spf_overrides", "fail.test=mark, pass.test=mark, quar.test=mark")
    inst.dns = Dns(dns_port, RECORDS, prefix=netns.prefix)
    inst.add_user("bob@example.test", "bob-pw-1")
    inst.start()
    yield inst
    inst.stop()
    inst.dns.stop()


def smtp_send(port, client, helo, mail_from, subject):
    """One transaction from address client; returns ("MAIL", code) if MAIL FROM
    was refused, else ("DATA", code, text)."""
    server = "::1" if ":" in client else "127.0.0.1"
    with smtplib.SMTP(timeout=60, source_address=(client, 0)) as s:
        s.connect(server, port)
        s.ehlo(helo)
        code, text = s.mail(mail_from)
        if code != 250:
            return ("MAIL", code, text)
        code, text = s.rcpt("bob@example.test")
        assert code == 250, text
        frm = mail_from or f"postmaster@{helo}"
        msg = (f"From: {frm}\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
               f"Message-ID: <{subject}@t>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
               f"\r\nHello Bob.\r\n")
        code, text = s.data(msg.encode())
        return ("DATA", code, text)


def pyspf(netns, dns_port, ip, helo, sender):
    r = subprocess.run([*netns.prefix, "/usr/bin/python3", REFERENCE, str(dns_port), ip, helo,
                        sender], capture_output=True, text=True, timeout=60)
    return r.stdout.strip()


def find_message(inst, subject):
    """(folder, raw bytes) of the delivered message with this subject, or None."""
    base = inst.maildir("bob@example.test")
    for folder, sub in (("INBOX", ""), ("Junk", ".Junk")):
        d = os.path.join(base, sub, "new")
        for n in os.listdir(d) if os.path.isdir(d) else ():
            raw = open(os.path.join(d, n), "rb").read()
            if f"Subject: {subject}\n".encode() in raw:
                return folder, raw
    return None


def ar_spf(raw):
    """The SPF resinfo of the Authentication-Results header (MAIL FROM, else HELO)."""
    text = raw.decode(errors="replace")
    start = text.index("Authentication-Results: mx.example.test;")
    field = text[start:text.index("\ndkim=", start) if "\ndkim=" in text else start + 400]
    for part in field.replace("\n", " ").split(";"):
        part = part.strip()
        if part.startswith("spf="):
            return part
    return ""


def test_spf_results_table(mx, netns):
    rows, problems = [], []
    for i, (ip, helo, sender, want, outcome, folder) in enumerate(CASES):
        subject = f"case{i}"
        got = netns.run(smtp_send, mx.port("smtp"), ip, helo, sender, subject)
        ref = pyspf(netns, mx.dns.port, ip, helo, sender)
        where = None
        if got[0] == "MAIL":
            tern = "fail" if got[1] == 550 and got[2].startswith(b"5.7.23") else f"?{got[1]}"
            reply = f"{got[1]} MAIL"
        else:
            reply = got[1]
            found = wait_for(lambda: find_message(mx, subject), 30) if got[1] == 250 else None
            where = found[0] if found else None
            spf = ar_spf(found[1]) if found else ""
            tern = spf.split()[0][4:] if spf else "-"
            if found:
                ident = f"smtp.mailfrom={sender}" if sender else f"smtp.helo={helo}"
                if ident not in spf:
                    problems.append(f"case {i}: header names {spf!r}, not {ident}")
        rows.append(f"{ip:14} {helo:12} {sender or '<>':16} {tern:10} {ref:10} "
                    f"{reply!s:9} {where}")
        if got[0] == "DATA" and got[1] != 250:
            tern = want  # refused at end of DATA: no header to read; checked below
        if tern != want or ref != want:
            problems.append(f"case {i}: tern {tern}, pyspf {ref}, expected {want}")
        if str(reply) != str(outcome):
            problems.append(f"case {i}: reply {reply}, expected {outcome}")
        if where != folder:
            problems.append(f"case {i}: landed in {where}, expected {folder}")
    table = "\n".join([f"{'client':14} {'helo':12} {'mail from':16} {'tern':10} {'pyspf':10} "
                       f"{'reply':9} folder"] + rows)
    print(table)
    assert not problems, "\n".join(problems) + "\n" + table + "\n" + mx.log_text()[-3000:]


def test_dmarc_reject_names_the_policy_domain(mx, netns):
    got = netns.run(smtp_send, mx.port("smtp"), BAD, "client.test", "a@rej.test", "r1")
    assert got[:2] == ("DATA", 550) and got[2].startswith(b"5.7.1"), got
    assert b"rej.test" in got[2]
    assert "dmarc" in mx.log_text().lower()


def test_trusted_network_skips_spf(mx, netns):
    """A client inside trusted_networks is not checked: the strict.test fail
    that is refused from outside is accepted, with no Authentication-Results."""
    mx.set_conf("smtpd", "trusted_networks", "192.0.2.16/28")
    mx.ctl("reload")
    got = wait_for(lambda: netns.run(smtp_send, mx.port("smtp"), BAD, "client.test",
                                     "a@strict.test", "t1")[1] == 250, 20)
    assert got
    found = wait_for(lambda: find_message(mx, "t1"), 30)
    assert found and found[0] == "INBOX"
    assert b"Authentication-Results: mx.example.test" not in found[1]


def test_temperror_deferred_when_configured(mx, netns):
    """dns_temperror = defer: a temporary DNS failure gives 451 4.7.24 at MAIL
    FROM (never a 5xx), and the message is not stored; with the default
    (accept) the same message is delivered marked spf=temperror (table above)."""
    mx.set_conf("smtpd", "dns_temperror", "defer")
    mx.ctl("reload")
    got = netns.run(smtp_send, mx.port("smtp"), GOOD, "client.test", "a@temp.test", "d1")
    assert got[:2] == ("MAIL", 451) and got[2].startswith(b"4.7.24"), got
    assert find_message(mx, "d1") is None
