"""`mailctl dns DOMAIN [--check]` (issue 15): the records a domain should
publish, and --check against a real DNS server (dnsmasq) serving some of them
right, some wrong and some not at all."""
import os
import re
import subprocess

import pytest

from test_remote import DNSMASQ, Dns

pytestmark = pytest.mark.skipif(not os.path.exists(DNSMASQ), reason="needs dnsmasq")

LINE = re.compile(r'^(\S+)\. IN (MX|TXT|SRV|CNAME|TLSA) (.*)$')


def zone_records(text):
    """(owner, type, rdata) of each record line; TXT strings joined."""
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            owner, typ, rdata = m.groups()
            if typ == "TXT":
                rdata = "".join(re.findall(r'"([^"]*)"', rdata))
            out.append((owner, typ, rdata))
    return out


def dnsmasq_args(records):
    """dnsmasq options serving exactly these records."""
    args = []
    for owner, typ, rdata in records:
        f = rdata.split()
        if typ == "MX":
            args.append(f"--mx-host={owner},{f[1].rstrip('.')},{f[0]}")
        elif typ == "TXT":
            # dnsmasq: a comma separates strings, so split long values at 250
            chunks = [rdata[i:i + 250] for i in range(0, len(rdata), 250)]
            args.append(f"--txt-record={owner}," + ",".join(chunks))
        elif typ == "SRV":
            args.append(f"--srv-host={owner},{f[3].rstrip('.')},{f[2]},{f[0]},{f[1]}")
        elif typ == "CNAME":
            args.append(f"--cname={owner},{rdata.rstrip('.')}")
        elif typ == "TLSA":
            hexdata = "%02x%02x%02x%s" % (int(f[0]), int(f[1]), int(f[2]), f[3])
            args.append(f"--dns-rr={owner},52,{hexdata}")
    return args


@pytest.fixture
def inst(new_instance):
    i = new_instance(hostname="mx.example.test")
    i.init()
    i.ctl("dkim", "keygen", "example.test", "--selector", "s1")
    yield i


def run_check(inst, records):
    port = 14000 + os.getpid() % 1000
    inst.set_conf("tern", "dns_server", f"127.0.0.1:{port}")
    dns = Dns(port, ["--host-record=mx.example.test,127.0.0.1"] + dnsmasq_args(records))
    try:
        return inst.ctl("dns", "example.test", "--check", check=False)
    finally:
        dns.stop()


def statuses(out):
    got = {}
    for line in out.splitlines():
        m = re.match(r"^(present|different|missing|unknown)\s+(\S+)\. IN (\S+) ", line)
        if m:
            got.setdefault((m.group(2), m.group(3)), []).append(m.group(1))
    return got


def test_prints_every_record_a_domain_needs(inst):
    out = inst.ctl("dns", "example.test").stdout
    recs = zone_records(out)
    kinds = {(o, t) for o, t, _ in recs}
    pb = inst.port_base
    for want in [("example.test", "MX"), ("example.test", "TXT"),
                 ("s1._domainkey.example.test", "TXT"), ("_dmarc.example.test", "TXT"),
                 ("_mta-sts.example.test", "TXT"), ("mta-sts.example.test", "CNAME"),
                 ("_smtp._tls.example.test", "TXT"), (f"_{pb + 25}._tcp.mx.example.test", "TLSA"),
                 ("_submissions._tcp.example.test", "SRV"), ("_imaps._tcp.example.test", "SRV"),
                 ("autoconfig.example.test", "CNAME")]:
        assert want in kinds, f"{want} missing from:\n{out}"
    rd = dict(((o, t), r) for o, t, r in recs)
    assert rd[("example.test", "MX")] == "10 mx.example.test."
    assert rd[("example.test", "TXT")].startswith("v=spf1 ")
    assert rd[("_dmarc.example.test", "TXT")].startswith("v=DMARC1; p=")
    assert "rua=mailto:" in rd[("_smtp._tls.example.test", "TXT")]
    # the DKIM record is the one keygen wrote
    with open(os.path.join(inst.dir, "dkim", "example.test", "s1.txt")) as f:
        assert rd[("s1._domainkey.example.test", "TXT")] == f.read().strip()
    # TLSA 3 1 1 is the SHA-256 of the certificate's public key, as openssl computes it
    spki = subprocess.run(f"openssl x509 -in {inst.cert()} -noout -pubkey | "
                          "openssl pkey -pubin -outform DER | openssl dgst -sha256 -r",
                          shell=True, capture_output=True, text=True, check=True).stdout.split()[0]
    assert rd[(f"_{pb + 25}._tcp.mx.example.test", "TLSA")] == "3 1 1 " + spki
    assert rd[("_imaps._tcp.example.test", "SRV")] == f"0 1 {pb + 993} mx.example.test."
    # the policy the TXT id names is printed too
    assert re.search(r"^;\s+version: STSv1$", out, re.M) and re.search(r"^;\s+mx: mx.example.test$", out, re.M)


def test_check_all_present(inst):
    recs = zone_records(inst.ctl("dns", "example.test").stdout)
    r = run_check(inst, recs)
    got = statuses(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(got) == len({(o, t) for o, t, _ in recs}), r.stdout
    assert all(v == ["present"] * len(v) for v in got.values()), r.stdout


def test_check_marks_present_different_missing(inst):
    recs = zone_records(inst.ctl("dns", "example.test").stdout)
    served = []
    for o, t, r in recs:
        if o == "_dmarc.example.test" or t == "SRV" and o.startswith("_pop3"):
            continue                            # missing
        if o == "example.test" and t == "TXT":
            r = "v=spf1 a ~all"                 # different
        if t == "TLSA":
            r = "3 1 1 " + "00" * 32            # different
        served.append((o, t, r))
    served.append(("example.test", "TXT", "google-site-verification=abc"))  # unrelated TXT
    r = run_check(inst, served)
    got = statuses(r.stdout)
    assert r.returncode == 1, r.stdout + r.stderr
    assert got[("example.test", "MX")] == ["present"]
    assert got[("s1._domainkey.example.test", "TXT")] == ["present"]
    assert got[("example.test", "TXT")] == ["different"]
    assert "; DNS has: \"v=spf1 a ~all\"" in r.stdout
    assert "google-site-verification" not in r.stdout  # another purpose, not a difference
    assert got[("_dmarc.example.test", "TXT")] == ["missing"]
    assert got[("_pop3s._tcp.example.test", "SRV")] == ["missing"]
    assert got[("_imaps._tcp.example.test", "SRV")] == ["present"]
    tlsa = [k for k in got if k[1] == "TLSA"][0]
    assert got[tlsa] == ["different"]


def test_unknown_domain_and_dns_failure(inst):
    r = inst.ctl("dns", "nowhere.test", check=False)
    assert r.returncode != 0 and "not a local domain" in r.stderr
    # nothing listens on the dns_server port: every lookup is 'unknown', never 'missing'
    inst.set_conf("tern", "dns_server", "127.0.0.1:9")
    r = inst.ctl("dns", "example.test", "--check", check=False)
    assert r.returncode == 1
    got = statuses(r.stdout)
    assert got and all(set(v) == {"unknown"} for v in got.values()), r.stdout


def spki_of(cert):
    return subprocess.run(f"openssl x509 -in {cert} -noout -pubkey | openssl pkey -pubin "
                          "-outform DER | openssl dgst -sha256 -r", shell=True,
                          capture_output=True, text=True, check=True).stdout.split()[0]


def test_tlsa_for_a_staged_next_certificate(inst):
    """A certificate staged as tls/next-cert.pem gets its TLSA 3 1 1 record
    beside the current one's, so it can be published before it is used."""
    nxt = os.path.join(inst.dir, "tls", "next-cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    nxt + ".key", "-out", nxt, "-days", "2", "-subj", "/CN=mx.example.test"],
                   check=True, capture_output=True)
    try:
        out = inst.ctl("dns", "example.test").stdout
        name = f"_{inst.port_base + 25}._tcp.mx.example.test"
        tlsa = sorted(r for o, t, r in zone_records(out) if (o, t) == (name, "TLSA"))
        assert tlsa == sorted(["3 1 1 " + spki_of(inst.cert()), "3 1 1 " + spki_of(nxt)]), out
        assert "staged next certificate" in out
    finally:
        os.unlink(nxt)
        os.unlink(nxt + ".key")
