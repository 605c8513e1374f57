"""tern-httpd end to end, the parts without a login: redirects from plain
HTTP, mail client autoconfiguration, the MTA-STS policy, TLS, malformed
requests, and the front process's account and chroot. Real instance under
the master; Python's http.client, ssl and raw sockets."""
import os
import pwd
import socket
import ssl
import xml.etree.ElementTree as ET

import pytest

from conftest import IS_ROOT
from jmap_harness import JmapInstance

AUTOCONFIG = "/.well-known/autoconfig/mail/config-v1.1.xml"


@pytest.fixture(scope="module")
def srv():
    inst = JmapInstance(confs={"tern": {"mta_sts_mode": "testing", "mta_sts_max_age": "1d"}})
    yield inst
    inst.close()


def test_plain_http_redirects_to_https(srv):
    base = srv.inst.port_base
    st, h, _ = srv.request("GET", "/some/where?x=1", tls=False)
    assert st == 301
    assert h["location"] == f"https://mx.example.test:{base + 443}/some/where?x=1"
    # a POST keeps its method: 308
    st, h, _ = srv.request("POST", "/jmap/api", body=b"{}", tls=False)
    assert st == 308 and h["location"].endswith("/jmap/api")
    # the Host header a client sends never names the target
    st, h, _ = srv.request("GET", "/", tls=False, headers={"Host": "evil.example"})
    assert st == 301 and "evil" not in h["location"]


def _servers(xml):
    root = ET.fromstring(xml)
    prov = root.find("emailProvider")
    out = []
    for s in list(prov.findall("incomingServer")) + list(prov.findall("outgoingServer")):
        out.append((s.get("type"), int(s.find("port").text), s.find("socketType").text,
                    s.find("hostname").text, s.find("username").text))
    return prov.get("id"), out


@pytest.mark.parametrize("tls,path", [(False, AUTOCONFIG), (True, AUTOCONFIG),
                                      (False, "/mail/config-v1.1.xml")])
def test_autoconfig_describes_this_instance(srv, tls, path):
    st, h, body = srv.request("GET", path + "?emailaddress=someone%40example.test", tls=tls)
    assert st == 200, body
    assert h["content-type"].startswith("application/xml")
    dom, servers = _servers(body)
    b = srv.inst.port_base
    assert dom == "example.test"
    assert set((t, p, s) for t, p, s, _, _ in servers) == {
        ("imap", b + 993, "SSL"), ("imap", b + 143, "STARTTLS"), ("pop3", b + 995, "SSL"),
        ("pop3", b + 110, "STARTTLS"), ("smtp", b + 465, "SSL"), ("smtp", b + 587, "STARTTLS")}
    assert all(hn == "mx.example.test" and u == "%EMAILADDRESS%" for _, _, _, hn, u in servers)


def test_autoconfig_by_host_and_unknown_domains(srv):
    # Thunderbird's autoconfig.DOMAIN host names the domain too
    st, _, body = srv.request("GET", AUTOCONFIG, tls=False,
                              headers={"Host": f"autoconfig.example.test:{srv.http_port}"})
    assert st == 200 and _servers(body)[0] == "example.test"
    st, _, _ = srv.request("GET", AUTOCONFIG + "?emailaddress=a%40elsewhere.test", tls=False)
    assert st == 404
    st, _, _ = srv.request("GET", AUTOCONFIG + "?emailaddress=a%40%3Cscript%3E", tls=False,
                           headers={"Host": "[::1]:80"})
    assert st == 400
    st, _, _ = srv.request("POST", AUTOCONFIG, body=b"x", tls=False)
    assert st == 405


def test_mta_sts_policy_over_https_only(srv):
    st, h, body = srv.request("GET", "/.well-known/mta-sts.txt")
    assert st == 200 and h["content-type"].startswith("text/plain")
    assert body == b"version: STSv1\nmode: testing\nmx: mx.example.test\nmax_age: 86400\n"
    # the text `mailctl dns` publishes the id of
    assert "mode: testing" in srv.ctl("dns", "example.test").stdout
    st, h, _ = srv.request("GET", "/.well-known/mta-sts.txt", tls=False)
    assert st == 301 and h["location"].startswith("https://")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_1_2_is_the_minimum(srv):
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with socket.create_connection(("127.0.0.1", srv.https_port), timeout=10) as s:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            old.wrap_socket(s).do_handshake()
    ctx = srv.ssl_ctx()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", srv.https_port), timeout=10) as s:
        with ctx.wrap_socket(s) as t:
            assert t.version() == "TLSv1.2"


def _raw(srv, data, tls=True):
    s = socket.create_connection(("127.0.0.1", srv.https_port if tls else srv.http_port),
                                 timeout=10)
    if tls:
        s = srv.ssl_ctx().wrap_socket(s)
    try:
        s.sendall(data)
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                return out
            out += d
    except (ConnectionResetError, ssl.SSLError):
        return out
    finally:
        s.close()


def test_malformed_and_oversized_requests(srv):
    assert _raw(srv, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw(srv, b"GET /x HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 70000 + b"\r\n\r\n",
                tls=False)[:12] in (b"HTTP/1.1 400", b"HTTP/1.1 413", b"")
    assert _raw(srv, b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n")[:12] in (
        b"HTTP/1.1 400", b"")
    # still serving
    st, _, _ = srv.request("GET", "/.well-known/mta-sts.txt")
    assert st == 200


@pytest.mark.skipif(not IS_ROOT, reason="accounts and chroot need root")
def test_front_runs_unprivileged_and_chrooted(srv):
    rows = [l.split() for l in srv.ctl("status").stdout.splitlines()]
    pids = [int(r[1]) for r in rows if r[0] == "httpd"]
    assert pids
    acct = pwd.getpwnam("tern-httpd")
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            ids = {l.split(":")[0]: l.split()[1:] for l in f if l.startswith(("Uid:", "Gid:", "Groups:"))}
        assert ids["Uid"] == [str(acct.pw_uid)] * 4
        assert ids["Gid"] == [str(acct.pw_gid)] * 4
        assert ids["Groups"] == [] or ids["Groups"] == [str(acct.pw_gid)]
        assert os.readlink(f"/proc/{pid}/root") == os.path.realpath(os.path.join(srv.dir, "run"))


def test_reload_applies_the_mta_sts_mode(srv):
    """`mailctl reload` starts a new front with the new tern.conf; none
    publishes no policy."""
    from conftest import wait_for
    try:
        srv.inst.set_conf("tern", "mta_sts_mode", "none")
        srv.ctl("reload")
        assert wait_for(lambda: srv.request("GET", "/.well-known/mta-sts.txt")[0] == 404, 20)
    finally:
        srv.inst.set_conf("tern", "mta_sts_mode", "testing")
        srv.ctl("reload")
    assert wait_for(lambda: srv.request("GET", "/.well-known/mta-sts.txt")[0] == 200, 20)
