"""JMAP at a front-end (issue 16, docs/SCALING.md): a request authenticated
at the front-end for a user stored on another mailbox host is served by that
host, passed to its HTTPS port with the site login (httpd/siteproxy.c); the
session resource names the front-end's URLs; a mailbox host that is down
gives 503 with Retry-After, never a 401; the site header is taken only from
site_frontends with the site secret.

The site of test_site_relay: one PostgreSQL cluster, a front-end and the
mailbox host mb1 on loopback (different port bases)."""
import base64
import http.client
import json
import os
import socket
import ssl

import pytest

from conftest import wait_for
from jmap_harness import JMAP_USING, Jmap, basic, read_until
# site: test_site_relay's module fixture (a site of its own for this module)
from test_site_relay import PG_BINS, SECRET, count, send, site  # noqa: F401

pytestmark = pytest.mark.skipif(
    not PG_BINS, reason="PostgreSQL server not installed (tools/deps.sh check installs postgresql)")


def no_verify():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Https:
    """What jmap_harness.Jmap needs of an instance: its HTTPS."""

    def __init__(self, inst):
        self.inst = inst

    def https(self, timeout=20):
        return http.client.HTTPSConnection("127.0.0.1", self.inst.port("https"),
                                           timeout=timeout, context=no_verify())


def deliver(site, address, subject):
    before = count(site.mb, address)
    send(site.fe, address, subject)
    assert wait_for(lambda: count(site.mb, address) == before + 1, timeout=30), \
        site.fe.ctl("queue", "list").stdout


def subjects(jm):
    acct = jm.account
    r = jm.api([["Email/query", {"accountId": acct}, "q"],
                ["Email/get", {"accountId": acct, "#ids": {"resultOf": "q", "name": "Email/query",
                                                          "path": "/ids"},
                               "properties": ["subject"]}, "g"]])
    return [e["subject"] for e in r["methodResponses"][1][1]["list"]]


def test_jmap_at_the_frontend_reads_the_mailbox_hosts_mail(site):
    deliver(site, "alice@example.test", "jmap through the front-end")
    jm = Jmap(Https(site.fe), "alice@example.test", "alice-pw-1")
    try:
        s = jm.get_session()
        here = f"https://fe.example.test:{site.fe.port('https')}/jmap/"
        for key in ("apiUrl", "downloadUrl", "uploadUrl", "eventSourceUrl"):
            assert s[key].startswith(here), (key, s[key])
        assert s["username"] == "alice@example.test"
        assert "jmap through the front-end" in subjects(jm)
    finally:
        jm.close()
    fe_log, mb_log = site.fe.log_text(), site.mb.log_text()
    assert "login: service=http user=alice@example.test" in fe_log and "proxy=mb1" in fe_log
    assert "site login: service=http user=alice@example.test client=127.0.0.1 result=ok" in mb_log
    assert not os.path.exists(site.fe.maildir("alice@example.test"))   # nothing stored here


def test_upload_and_download_at_the_frontend(site):
    jm = Jmap(Https(site.fe), "bob@example.test", "bob-pw-1")
    try:
        acct = jm.account
        data = os.urandom(300 * 1024)       # more than one read of the hop
        st, h, body = jm.raw("POST", f"/jmap/upload/{acct}/", data,
                             {"Content-Type": "application/octet-stream"})
        assert st == 201, (st, body)
        blob = json.loads(body)
        assert blob["size"] == len(data)
        st, h, body = jm.raw("GET", f"/jmap/download/{acct}/{blob['blobId']}/x.bin"
                                    "?accept=application/octet-stream")
        assert st == 200 and body == data, (st, len(body))
        assert "sandbox" in h["content-security-policy"]
        assert "attachment" in h["content-disposition"]
        # an answer other than 200 comes back as the mailbox host gave it
        st, h, body = jm.raw("GET", f"/jmap/download/{acct}/Gnothere/x.bin")
        assert st == 404, (st, body)
    finally:
        jm.close()
    blobs = os.path.join(site.mb.maildir("bob@example.test"), "tern-blobs")
    assert os.listdir(blobs)                # stored on the mailbox host


def test_eventsource_at_the_frontend_hears_a_delivery(site):
    s = no_verify().wrap_socket(socket.create_connection(("127.0.0.1", site.fe.port("https")),
                                                         timeout=10))
    try:
        s.sendall((f"GET /jmap/eventsource?types=*&closeafter=no&ping=0 HTTP/1.1\r\n"
                   f"Host: x\r\nAuthorization: {basic('alice@example.test', 'alice-pw-1')}"
                   "\r\n\r\n").encode())
        first = read_until(s, lambda b: b"event: state" in b or b"\r\n\r\n" in b and
                           not b.startswith(b"HTTP/1.1 200"), timeout=20)
        assert first.startswith(b"HTTP/1.1 200"), first
        assert b"text/event-stream" in first
        send(site.fe, "alice@example.test", "pushed through the front-end")
        got = read_until(s, lambda b: b"event: state" in b and b"Email" in b, timeout=30)
        assert b"event: state" in got and b"Email" in got, got
    finally:
        s.close()


def test_a_mailbox_host_that_is_down_gives_503_not_401(site):
    site.mb.stop()
    try:
        jm = Jmap(Https(site.fe), "alice@example.test", "alice-pw-1")
        try:
            st, h, body = jm.raw("GET", "/.well-known/jmap")
            assert st == 503, (st, body)
            assert h.get("retry-after") == "30"
            st, h, body = jm.api([["Core/echo", {}, "e"]], raw_status=True)
            assert st == 503, (st, body)
        finally:
            jm.close()
        log = site.fe.log_text()
        assert "http proxy: user=alice@example.test host=mb1" in log and "failed:" in log, \
            log[-2000:]
    finally:
        site.mb.start()
    jm = Jmap(Https(site.fe), "alice@example.test", "alice-pw-1")
    try:
        assert jm.get_session()["username"] == "alice@example.test"   # back
    finally:
        jm.close()


def site_request(inst, source, secret, user="alice@example.test"):
    """GET the session resource at inst with the site header, from source."""
    raw = socket.socket()
    raw.bind((source, 0))
    raw.settimeout(10)
    raw.connect(("127.0.0.1", inst.port("https")))
    s = no_verify().wrap_socket(raw)
    login = base64.b64encode(f"{user}\0site\0{secret}".encode()).decode()
    try:
        s.sendall((f"GET /jmap/session HTTP/1.1\r\nHost: x\r\nTern-Site-Login: {login}\r\n"
                   "Tern-Site-Client: 192.0.2.7\r\nConnection: close\r\n\r\n").encode())
        return read_until(s, lambda b: False, timeout=10)
    finally:
        s.close()


def test_the_site_header_wants_a_frontend_and_the_secret(site):
    # from a front-end with the secret: served as the user (dave: stored on
    # mb1, his directory entry names no host; not asked for before, so authd
    # checks the secret)
    ok = site_request(site.mb, "127.0.0.1", SECRET, user="dave@example.test")
    assert ok.startswith(b"HTTP/1.1 200"), ok[:300]
    assert b'"username":"dave@example.test"' in ok
    assert "site login: service=http user=dave@example.test client=192.0.2.7 result=ok" \
        in site.mb.log_text()
    # from an address outside site_frontends, even with the secret
    out = site_request(site.mb, "127.0.0.2", SECRET)
    assert out.startswith(b"HTTP/1.1 403"), out[:300]
    assert b"alice@example.test" not in out
    assert "http: site login refused: peer=127.0.0.2" in site.mb.log_text()
    # from a front-end with a wrong secret: authd refuses
    bad = site_request(site.mb, "127.0.0.1", "wrong-secret-1234567")
    assert bad.startswith(b"HTTP/1.1 403"), bad[:300]
    # the front-end takes no site login at all (no site_frontends there)
    fe = site_request(site.fe, "127.0.0.1", SECRET)
    assert fe.startswith(b"HTTP/1.1 403"), fe[:300]


def test_a_webmail_session_at_the_frontend_reaches_the_mailbox_host(site):
    c = Https(site.fe).https()
    try:
        c.request("POST", "/webmail/login", json.dumps(
            {"username": "alice@example.test", "password": "alice-pw-1"}).encode(),
            {"Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body)
        cookie = r.getheader("Set-Cookie").split(";")[0]
        csrf = json.loads(body)["csrf"]
        c.request("GET", "/jmap/session", headers={"Cookie": cookie})
        r = c.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body)
        acct = json.loads(body)["primaryAccounts"]["urn:ietf:params:jmap:mail"]
        req = {"using": JMAP_USING, "methodCalls": [["Mailbox/get", {"accountId": acct}, "m"]]}
        c.request("POST", "/jmap/api", json.dumps(req).encode(),
                  {"Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": csrf})
        r = c.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body)
        names = [m["name"] for m in json.loads(body)["methodResponses"][0][1]["list"]]
        assert "Inbox" in names or "INBOX" in names, names
    finally:
        c.close()
