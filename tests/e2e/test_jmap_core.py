"""JMAP core (RFC 8620) end to end: the session resource, HTTP Basic
authentication through authd, API requests with result references,
request-level and method-level errors, every limit the session announces,
blob upload and download, the event source, and the user's mail process
(account, confinement). One real instance for the module; a fresh user per
test; Python's http.client, ssl and json only."""
import json
import os
import pwd
import re
import signal
import socket
import threading
import time

from conftest import IS_ROOT, wait_for
from jmap_harness import Jmap, jmap_fixtures, basic, read_until, sse_connect

CORE = "urn:ietf:params:jmap:core"
LIMITS = {"max_size_upload": "1m", "max_size_request": "256k", "max_calls_in_request": "8",
          "max_concurrent_requests": "2", "max_concurrent_upload": "1",
          "max_objects_in_get": "50", "max_objects_in_set": "40", "event_ping_min": "1s"}


srv, jm = jmap_fixtures(httpd_conf=LIMITS)


def test_session_resource(srv, jm):
    s = jm.get_session()
    core = s["capabilities"][CORE]
    assert core["maxSizeUpload"] == 1 << 20 and core["maxSizeRequest"] == 256 << 10
    assert core["maxCallsInRequest"] == 8 and core["maxConcurrentRequests"] == 2
    assert core["maxConcurrentUpload"] == 1 and core["maxObjectsInGet"] == 50
    assert core["maxObjectsInSet"] == 40 and "i;unicode-casemap" in core["collationAlgorithms"]
    assert s["username"] == jm.user
    (acct_id, acct), = s["accounts"].items()
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", acct_id)
    assert acct["name"] == jm.user and acct["isPersonal"] and not acct["isReadOnly"]
    base = f"https://mx.example.test:{srv.https_port}"
    assert s["apiUrl"] == base + "/jmap/api/"
    assert s["downloadUrl"] == base + "/jmap/download/{accountId}/{blobId}/{name}?accept={type}"
    assert s["uploadUrl"] == base + "/jmap/upload/{accountId}/"
    assert s["eventSourceUrl"].startswith(base + "/jmap/eventsource?")
    for var in ("{types}", "{closeafter}", "{ping}"):
        assert var in s["eventSourceUrl"]
    assert s["state"]
    # the same again, and the same state in API responses
    assert jm.get_session()["state"] == s["state"]
    assert jm.api([["Core/echo", {}, "0"]], using=[CORE])["sessionState"] == s["state"]
    # another user has another account
    u2, p2 = srv.new_user()
    st, _, body = srv.request("GET", "/.well-known/jmap", user=u2, pw=p2)
    assert st == 200 and acct_id not in json.loads(body)["accounts"]


def test_authentication_required_and_checked(srv, jm):
    st, h, body = jm.raw("GET", "/.well-known/jmap", auth=False)
    assert st == 401 and h["www-authenticate"].startswith("Basic realm=")
    assert json.loads(body)["status"] == 401
    for path, method in (("/jmap/api", "POST"), ("/jmap/upload/x/", "POST"),
                         ("/jmap/download/x/y/z", "GET"), ("/jmap/eventsource", "GET")):
        st, h, _ = jm.raw(method, path, b"{}", auth=False)
        assert st == 401 and "www-authenticate" in h, path
    st, h, _ = srv.request("GET", "/.well-known/jmap", user=jm.user, pw="wrong")
    assert st == 401
    st, _, _ = srv.request("GET", "/.well-known/jmap", headers={"Authorization": "Basic !!!"})
    assert st == 401
    st, _, _ = srv.request("GET", "/.well-known/jmap", headers={"Authorization": "Bearer x"})
    assert st == 401
    # a cached login does not outlive a password change... for auth_cache_time at most;
    # a new password works at once
    srv.ctl("user", "passwd", jm.user, input="new-secret\n")
    st, _, _ = srv.request("GET", "/.well-known/jmap", user=jm.user, pw="new-secret")
    assert st == 200
    assert "service=http" in srv.log_text()


def test_echo_and_result_references(jm):
    r = jm.api([
        ["Core/echo", {"list": [{"id": "a", "n": [1, 2]}, {"id": "b", "n": [3]}],
                       "m": {"x/y": 1, "t~": 2}}, "c1"],
        ["Core/echo", {"#ids": {"resultOf": "c1", "name": "Core/echo", "path": "/list/*/id"},
                       "#ns": {"resultOf": "c1", "name": "Core/echo", "path": "/list/*/n"},
                       "#one": {"resultOf": "c1", "name": "Core/echo", "path": "/list/1/id"},
                       "#esc": {"resultOf": "c1", "name": "Core/echo", "path": "/m/x~1y"},
                       "#til": {"resultOf": "c1", "name": "Core/echo", "path": "/m/t~0"}}, "c2"],
    ], using=[CORE])
    assert r["methodResponses"][1] == ["Core/echo", {"ids": ["a", "b"], "ns": [1, 2, 3],
                                                     "one": "b", "esc": 1, "til": 2}, "c2"]
    bad = [{"resultOf": "nope", "name": "Core/echo", "path": "/list"},
           {"resultOf": "c1", "name": "Other/get", "path": "/list"},
           {"resultOf": "c1", "name": "Core/echo", "path": "/missing"},
           {"resultOf": "c1", "name": "Core/echo", "path": "list"},
           {"resultOf": "c1", "name": "Core/echo"}, "notanobject"]
    for ref in bad:
        r = jm.api([["Core/echo", {"list": [1]}, "c1"], ["Core/echo", {"#x": ref}, "c2"]],
                   using=[CORE])
        assert r["methodResponses"][1] == ["error", {"type": "invalidResultReference",
                                                     "description": "x"}, "c2"], ref
    # plain and referenced at once
    r = jm.api([["Core/echo", {}, "c1"],
                ["Core/echo", {"a": 1, "#a": {"resultOf": "c1", "name": "Core/echo",
                                               "path": ""}}, "c2"]], using=[CORE])
    assert r["methodResponses"][1][1]["type"] == "invalidArguments"


def test_request_level_errors(jm):
    def problem(body, ctype="application/json"):
        st, h, b = jm.raw("POST", "/jmap/api", body, {"Content-Type": ctype})
        assert st == 400 and h["content-type"] == "application/problem+json", (st, b)
        p = json.loads(b)
        assert p["status"] == 400
        return p
    assert problem(b"{not json")["type"] == "urn:ietf:params:jmap:error:notJSON"
    assert problem(b'{"using":[],"methodCalls":[]}', "text/plain")["type"].endswith(":notJSON")
    assert problem(b'{"a":1,"a":2}')["type"].endswith(":notJSON")        # I-JSON: no duplicates
    assert problem(b'\xff\xfe{}')["type"].endswith(":notJSON")
    for body in (b"[]", b'{"using":"x","methodCalls":[]}', b'{"using":[],"methodCalls":[[1]]}',
                 b'{"using":[1],"methodCalls":[]}',
                 b'{"using":[],"methodCalls":[["a",[],"c"]]}',
                 b'{"using":[],"methodCalls":[],"createdIds":{"a":1}}'):
        assert problem(body)["type"].endswith(":notRequest"), body
    p = problem(json.dumps({"using": [CORE, "https://example.com/apis/foobar"],
                            "methodCalls": []}).encode())
    assert p["type"].endswith(":unknownCapability") and "foobar" in p["detail"]
    # method-level: unknown method, and a method whose capability is not in using
    r = jm.api([["Foo/bar", {}, "0"], ["Core/echo", {}, "1"]], using=[])
    assert r["methodResponses"] == [["error", {"type": "unknownMethod"}, "0"],
                                    ["error", {"type": "unknownMethod"}, "1"]]
    # createdIds come back when given
    r = jm.api([["Core/echo", {}, "0"]], using=[CORE], created_ids={"k1": "id1"})
    assert r["createdIds"] == {"k1": "id1"}
    # GET on the API is not allowed
    st, h, _ = jm.raw("GET", "/jmap/api")
    assert st == 405 and h["allow"] == "POST"


def test_limits_calls_and_size(jm):
    st, _, b = jm.api([["Core/echo", {}, str(i)] for i in range(9)], using=[CORE],
                      raw_status=True)
    p = json.loads(b)
    assert st == 400 and p["type"].endswith(":limit") and p["limit"] == "maxCallsInRequest"
    assert len(jm.api([["Core/echo", {}, str(i)] for i in range(8)],
                      using=[CORE])["methodResponses"]) == 8
    big = json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {"x": "y" * (300 << 10)},
                                                         "0"]]}).encode()
    st, _, b = jm.raw("POST", "/jmap/api", big, {"Content-Type": "application/json"})
    p = json.loads(b)
    assert st == 400 and p["type"].endswith(":limit") and p["limit"] == "maxSizeRequest"
    # just below the limit passes (and travels to the mail process as a memfd)
    ok = json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {"x": "y" * (200 << 10)},
                                                        "0"]]}).encode()
    st, _, b = jm.raw("POST", "/jmap/api", ok, {"Content-Type": "application/json"})
    assert st == 200 and len(json.loads(b)["methodResponses"][0][1]["x"]) == 200 << 10


def mail_process(srv, user):
    """Pid of user's mail process (its start is logged)."""
    pids = re.findall(r"tern/httpd\[(\d+)\]: http session: user=" + re.escape(user) + " ",
                      srv.log_text())
    return int(pids[-1]) if pids else None


def test_concurrency_limits_enforced(srv, jm):
    """With the user's mail process stopped, requests stay in flight: the
    ones beyond maxConcurrentRequests / maxConcurrentUpload are refused."""
    jm.get_session()
    pid = mail_process(srv, jm.user)
    results = []

    def call():
        c = Jmap(srv, jm.user, jm.pw)
        try:
            results.append(c.api([["Core/echo", {}, "0"]], using=[CORE], raw_status=True)[0])
        finally:
            c.close()
    os.kill(pid, signal.SIGSTOP)
    try:
        ts = [threading.Thread(target=call) for _ in range(2)]
        for t in ts:
            t.start()
        time.sleep(1)
        st, _, b = Jmap(srv, jm.user, jm.pw).api([["Core/echo", {}, "0"]], using=[CORE],
                                                raw_status=True)
        assert st == 400 and json.loads(b)["limit"] == "maxConcurrentRequests"
        up = threading.Thread(target=lambda: Jmap(srv, jm.user, jm.pw).raw(
            "POST", f"/jmap/upload/{jm.account}/", b"x"))
        up.start()
        time.sleep(1)
        st, _, b = Jmap(srv, jm.user, jm.pw).raw("POST", f"/jmap/upload/{jm.account}/", b"y")
        assert st == 400 and json.loads(b)["limit"] == "maxConcurrentUpload"
    finally:
        os.kill(pid, signal.SIGCONT)
    for t in ts + [up]:
        t.join(20)
    assert results == [200, 200]


def test_upload_and_download_byte_exact(srv, jm):
    data = os.urandom(300000) + b"\r\n\x00end"
    st, h, body = jm.raw("POST", f"/jmap/upload/{jm.account}/", data,
                         {"Content-Type": "application/x-test"})
    assert st == 201, body
    up = json.loads(body)
    assert up["accountId"] == jm.account and up["type"] == "application/x-test"
    assert up["size"] == len(data) and re.fullmatch(r"[A-Za-z0-9_-]+", up["blobId"])
    st, h, got = jm.raw("GET", f"/jmap/download/{jm.account}/{up['blobId']}/"
                               "r%C3%A9sum%C3%A9%20final.pdf?accept=application/pdf")
    assert st == 200 and got == data
    assert h["content-type"] == "application/pdf"
    assert h["content-disposition"] == "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.pdf"
    assert "sandbox" in h["content-security-policy"]
    # a type that is not a plain media type is not echoed
    st, h, _ = jm.raw("GET", f"/jmap/download/{jm.account}/{up['blobId']}/x?accept=text/html%0D%0AX:%20y")
    assert st == 200 and h["content-type"] == "application/octet-stream" and "x" not in h
    # the same bytes are the same blob; small ones travel inline
    assert json.loads(jm.raw("POST", f"/jmap/upload/{jm.account}/", data)[2])["blobId"] == up["blobId"]
    st, _, b = jm.raw("POST", f"/jmap/upload/{jm.account}/", b"tiny")
    small = json.loads(b)
    assert st == 201 and small["type"] == "application/octet-stream"
    assert jm.raw("GET", f"/jmap/download/{jm.account}/{small['blobId']}/t")[2] == b"tiny"
    # unknown blob, other account, malformed path
    assert jm.raw("GET", f"/jmap/download/{jm.account}/Gnope/x")[0] == 404
    assert jm.raw("GET", f"/jmap/download/other/{up['blobId']}/x")[0] == 404
    assert jm.raw("GET", f"/jmap/download/{jm.account}/{up['blobId']}")[0] == 404
    assert jm.raw("POST", "/jmap/upload/other/", b"x")[0] == 404
    # another user cannot read it
    u2, p2 = srv.new_user()
    other = Jmap(srv, u2, p2)
    assert other.raw("GET", f"/jmap/download/{other.account}/{up['blobId']}/x")[0] == 404
    other.close()
    # over maxSizeUpload: refused from the Content-Length, before the body is read
    s = srv.ssl_ctx().wrap_socket(socket.create_connection(("127.0.0.1", srv.https_port),
                                                           timeout=10))
    s.sendall((f"POST /jmap/upload/{jm.account}/ HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: {basic(jm.user, jm.pw)}\r\n"
               f"Content-Length: {(1 << 20) + 1}\r\n\r\n").encode())
    assert read_until(s, lambda b: b"\r\n\r\n" in b).startswith(b"HTTP/1.1 413 ")
    s.close()


def test_event_source_stream_and_pings(srv, jm):
    s = sse_connect(srv, jm.user, jm.pw, "types=*&closeafter=no&ping=1")
    buf = read_until(s, lambda b: b.count(b"event: ping") >= 2, timeout=8)
    assert buf.startswith(b"HTTP/1.1 200 OK\r\n")
    head = buf.split(b"\r\n\r\n")[0].lower()
    assert b"content-type: text/event-stream" in head
    assert b'event: ping\ndata: {"interval":1}\n\n' in buf
    s.close()
    # a client that goes away frees its stream at once (16 per user at most):
    # twenty streams one after the other, without pings, all get one
    for _ in range(20):
        s = sse_connect(srv, jm.user, jm.pw, "types=*&closeafter=no&ping=0")
        assert read_until(s, lambda b: b"\r\n\r\n" in b).startswith(b"HTTP/1.1 200 "), _
        s.close()
        time.sleep(0.2)
    # bad arguments
    st, _, _ = jm.raw("GET", "/jmap/eventsource?types=*&closeafter=maybe&ping=0")
    assert st == 400
    st, _, _ = jm.raw("GET", "/jmap/eventsource?ping=x")
    assert st == 400


def test_first_request_an_event_source_makes_the_journal(srv, jm):
    """A new user whose first request reads the journal (the event source's
    first state) gets it made there: the confined mail process could not open
    /dev/null for a map never written, and logged 'cannot open tern-jmap.db:
    Permission denied' with no states sent."""
    s = sse_connect(srv, jm.user, jm.pw, "types=*&closeafter=no&ping=0")
    buf = read_until(s, lambda b: b"event: state" in b and b"\n\n" in b.split(b"event: state")[1])
    s.close()
    assert b'"Mailbox":' in buf, buf
    assert os.path.exists(os.path.join(srv.maildir(jm.user), "tern-jmap.db"))
    bad = [l for l in srv.log_text().splitlines() if "tern-jmap.db" in l]
    assert not bad, bad


def test_mail_process_account_and_confinement(srv, jm):
    jm.get_session()
    pid = mail_process(srv, jm.user)
    assert pid
    with open(f"/proc/{pid}/status") as f:
        st = {l.split(":")[0]: l.split(":", 1)[1].split() for l in f}
    assert st["NoNewPrivs"] == ["1"]
    assert os.readlink(f"/proc/{pid}/cwd") == os.path.realpath(srv.maildir(jm.user))
    if IS_ROOT:
        assert st["Uid"] == [str(pwd.getpwnam("tern-vmail").pw_uid)] * 4
    # one mail process per user (and front): a second login reuses it
    Jmap(srv, jm.user, jm.pw).get_session()
    assert mail_process(srv, jm.user) == pid
