"""A real tern instance for the HTTP and JMAP tests: `mailctl init`,
`mailctl start` (the whole suite, tern-httpd's two roles included), users made
with `mailctl user add`, mail delivered over SMTP or APPENDed over IMAP
(imap_harness.ImapInstance). HTTP with Python's standard library only
(http.client over ssl, json).

One instance serves a whole test module; each test gets a fresh user:
`srv, jm = jmap_fixtures(...)` at the top of a module gives both fixtures.
"""
import base64
import http.client
import json
import socket
import time

import pytest

from imap_harness import ImapInstance, tls_ctx

JMAP_USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]


class JmapInstance(ImapInstance):
    """A started instance; httpd_conf: extra httpd.conf settings."""

    LEAK_DAEMONS = ("tern-httpd",)

    def __init__(self, httpd_conf=None, imapd_conf=None, confs=None):
        super().__init__(imapd_conf, confs={"httpd": httpd_conf or {}, **(confs or {})})

    @property
    def http_port(self):
        return self.inst.port("http")

    @property
    def https_port(self):
        return self.inst.port("https")

    def ssl_ctx(self):
        return tls_ctx(self.cert())

    def http(self, timeout=20):
        return http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)

    def https(self, timeout=20):
        return http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=timeout,
                                           context=self.ssl_ctx())

    def request(self, method, path, body=None, headers=None, tls=True, user=None, pw=None):
        """One request on a fresh connection: (status, headers dict, body bytes)."""
        c = self.https() if tls else self.http()
        h = dict(headers or {})
        if user is not None:
            h["Authorization"] = basic(user, pw)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()


def basic(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


class Jmap:
    """A JMAP client for one user: keeps one HTTPS connection."""

    def __init__(self, inst, user, pw):
        self.inst, self.user, self.pw = inst, user, pw
        self.conn = inst.https()
        self.session = None

    def raw(self, method, path, body=None, headers=None, auth=True):
        h = dict(headers or {})
        if auth:
            h["Authorization"] = basic(self.user, self.pw)
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = self.inst.https()

    def get_session(self):
        st, h, body = self.raw("GET", "/.well-known/jmap")
        assert st == 200, (st, body)
        self.session = json.loads(body)
        return self.session

    @property
    def account(self):
        if not self.session:
            self.get_session()
        prim = self.session["primaryAccounts"].get("urn:ietf:params:jmap:mail")
        return prim or next(iter(self.session["accounts"]))

    def api(self, calls, using=None, created_ids=None, raw_status=False):
        """POST a request; returns the parsed response (asserting 200)."""
        req = {"using": JMAP_USING if using is None else using, "methodCalls": calls}
        if created_ids is not None:
            req["createdIds"] = created_ids
        st, h, body = self.raw("POST", "/jmap/api", json.dumps(req).encode(),
                               {"Content-Type": "application/json"})
        if raw_status:
            return st, h, body
        assert st == 200, (st, body)
        return json.loads(body)

    def call(self, name, args, call_id="c0", using=None):
        """One method call; returns its response arguments (asserting the name)."""
        r = self.api([[name, args, call_id]], using=using)
        resp = r["methodResponses"][0]
        assert resp[0] == name, resp
        return resp[1]

    def close(self):
        self.conn.close()


def jmap_fixtures(**instance_args):
    """The fixtures of a JMAP test module: `srv`, one JmapInstance(**instance_args)
    for the whole module, and `jm`, a client (Jmap) of a fresh user per test.
    Use: `srv, jm = jmap_fixtures(httpd_conf={...})` at module level."""
    @pytest.fixture(scope="module")
    def srv():
        inst = JmapInstance(**instance_args)
        yield inst
        inst.close()

    @pytest.fixture
    def jm(srv):
        user, pw = srv.new_user()
        c = Jmap(srv, user, pw)
        yield c
        c.close()

    return srv, jm


def sse_connect(srv, user, pw, query):
    """An open event source request (RFC 8620 7.3) of user: the TLS socket."""
    s = srv.ssl_ctx().wrap_socket(socket.create_connection(("127.0.0.1", srv.https_port),
                                                           timeout=10))
    s.sendall((f"GET /jmap/eventsource?{query} HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: {basic(user, pw)}\r\n\r\n").encode())
    return s


def read_until(s, pred, timeout=10):
    """What s sends until pred(all of it) holds, the peer closes or timeout."""
    buf = b""
    deadline = time.monotonic() + timeout
    while not pred(buf) and time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    return buf
