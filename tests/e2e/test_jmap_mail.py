"""JMAP for mail (RFC 8621) end to end on a real instance: mailboxes,
emails, threads, their /changes and /query, and one store shared with IMAP
(a change over either is seen by the other). Python's http.client, json and
imaplib only. One instance for the module; a fresh user per test."""
import base64
import email
import email.policy
import hashlib
import imaplib
import json
import os
import pathlib
import re
import subprocess
import time
import uuid

from conftest import wait_for
from jmap_harness import Jmap, jmap_fixtures, read_until, sse_connect
from imap_harness import tls_ctx

MAIL = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]


srv, jm = jmap_fixtures()


def msg(subject, frm="Alice <alice@example.org>", to="bob@example.test", body="hello\r\n",
        date="Mon, 02 Mar 2026 10:00:00 +0000", extra=""):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n{extra}"
            f"\r\n{body}").encode()


def imap(srv, jm):
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=tls_ctx(srv.cert()), timeout=20)
    c.login(jm.user, jm.pw)
    return c


def mailboxes(jm):
    r = jm.call("Mailbox/get", {"accountId": jm.account})
    return {m["name"]: m for m in r["list"]}


def query(jm, **args):
    return jm.call("Email/query", {"accountId": jm.account, **args})["ids"]


def get(jm, ids, props=None, **kw):
    args = {"accountId": jm.account, "ids": ids, **kw}
    if props is not None:
        args["properties"] = props
    return jm.call("Email/get", args)["list"]


def test_session_announces_mail(jm):
    s = jm.get_session()
    assert "urn:ietf:params:jmap:mail" in s["capabilities"]
    acct = s["accounts"][jm.account]["accountCapabilities"]["urn:ietf:params:jmap:mail"]
    assert acct["maxMailboxesPerEmail"] == 1 and acct["maxSizeMailboxName"] == 255
    assert "receivedAt" in acct["emailQuerySortOptions"]
    assert s["primaryAccounts"]["urn:ietf:params:jmap:mail"] == jm.account


def test_mailboxes_roles_counts_and_rights(srv, jm):
    boxes = mailboxes(jm)
    roles = {n: m["role"] for n, m in boxes.items()}
    assert roles == {"INBOX": "inbox", "Sent": "sent", "Drafts": "drafts", "Trash": "trash",
                     "Junk": "junk", "Archive": "archive"}
    inbox = boxes["INBOX"]
    assert inbox["parentId"] is None and inbox["totalEmails"] == 0
    assert not inbox["myRights"]["mayDelete"] and boxes["Trash"]["myRights"]["mayDelete"]
    srv.append(jm.user, jm.pw, [msg("one"), msg("two")])
    srv.append(jm.user, jm.pw, [msg("three")], flags="(\\Seen)")
    inbox = mailboxes(jm)["INBOX"]
    assert (inbox["totalEmails"], inbox["unreadEmails"]) == (3, 2)
    assert (inbox["totalThreads"], inbox["unreadThreads"]) == (3, 2)
    r = jm.call("Mailbox/get", {"accountId": jm.account, "ids": [inbox["id"], "Mnope"],
                                "properties": ["name"]})
    assert r["list"] == [{"id": inbox["id"], "name": "INBOX"}] and r["notFound"] == ["Mnope"]


def test_mailbox_set_and_imap_sees_it(srv, jm):
    r = jm.call("Mailbox/set", {"accountId": jm.account, "create": {
        "a": {"name": "Projects", "parentId": None, "isSubscribed": True},
        "b": {"name": "Zürich", "parentId": "#a"},
        "bad": {"name": "x.y"}, "bad2": {"name": "z", "parentId": "Mnope"},
        "bad3": {"name": "q", "role": "inbox"}}})
    a, b = r["created"]["a"]["id"], r["created"]["b"]["id"]
    assert set(r["notCreated"]) == {"bad", "bad2", "bad3"}
    assert r["notCreated"]["bad"]["type"] == "invalidProperties"
    boxes = mailboxes(jm)
    assert boxes["Zürich"]["parentId"] == a and boxes["Projects"]["isSubscribed"]
    c = imap(srv, jm)
    names = [l.decode() for l in c.list()[1]]
    assert any('"Projects.Z&APw-rich"' in n or "Projects.Z&APw-rich" in n for n in names), names
    # rename and move, then IMAP sees the new names
    r = jm.call("Mailbox/set", {"accountId": jm.account, "update": {
        b: {"name": "Bern", "parentId": None}, a: {"isSubscribed": False}}})
    assert set(r["updated"]) == {a, b}
    names = " ".join(l.decode() for l in c.list()[1])
    assert "Bern" in names and "Z&APw-rich" not in names
    assert mailboxes(jm)["Bern"]["id"] == b      # the id follows the rename
    # destroy: INBOX never, a folder with mail only with onDestroyRemoveEmails
    c.append("Bern", None, None, msg("kept"))
    inbox = mailboxes(jm)["INBOX"]["id"]
    r = jm.call("Mailbox/set", {"accountId": jm.account, "destroy": [inbox, b]})
    assert r["notDestroyed"][inbox]["type"] == "forbidden"
    assert r["notDestroyed"][b]["type"] == "mailboxHasEmail"
    r = jm.call("Mailbox/set", {"accountId": jm.account, "destroy": [b],
                                "onDestroyRemoveEmails": True})
    assert r["destroyed"] == [b]
    assert c.select("Bern")[0] == "NO"
    c.logout()
    # a folder made over IMAP appears, with a parent
    c = imap(srv, jm)
    c.create("Projects.Sub")
    c.logout()
    boxes = mailboxes(jm)
    assert boxes["Sub"]["parentId"] == a
    r = jm.call("Mailbox/set", {"accountId": jm.account, "destroy": [a]})
    assert r["notDestroyed"][a]["type"] == "mailboxHasChild"


def test_special_use_made_over_imap_is_a_role(srv, jm):
    """RFC 6154 CREATE ... (USE (...)) gives the JMAP role (RFC 8621 2):
    one attribute, and the first of several that JMAP knows."""
    c = imap(srv, jm)
    for name in ("Archive", "Drafts", "Trash"):
        assert c.delete(name)[0] == "OK"
    assert c._simple_command("CREATE", "Stash", "(USE (\\Archive))")[0] == "OK"
    assert c._simple_command("CREATE", "Work.Both", "(USE (\\Drafts \\Trash))")[0] == "OK"
    c.logout()
    boxes = mailboxes(jm)
    assert boxes["Stash"]["role"] == "archive" and "Archive" not in boxes
    assert boxes["Both"]["role"] == "drafts"
    assert boxes["Work"]["role"] is None


def test_mailbox_changes_and_query(jm):
    state = jm.call("Mailbox/get", {"accountId": jm.account, "ids": []})["state"]
    r = jm.call("Mailbox/set", {"accountId": jm.account, "create": {"k": {"name": "Q1"}}})
    new = r["created"]["k"]["id"]
    ch = jm.call("Mailbox/changes", {"accountId": jm.account, "sinceState": state})
    assert ch["created"] == [new] and ch["updated"] == [] and ch["destroyed"] == []
    assert ch["newState"] == r["newState"] and not ch["hasMoreChanges"]
    ch2 = jm.call("Mailbox/changes", {"accountId": jm.account, "sinceState": ch["newState"]})
    assert ch2["created"] == ch2["updated"] == ch2["destroyed"] == []
    bad = jm.api([["Mailbox/changes", {"accountId": jm.account, "sinceState": "nope.1"}, "0"]])
    assert bad["methodResponses"][0][1]["type"] == "cannotCalculateChanges"
    q = jm.call("Mailbox/query", {"accountId": jm.account, "filter": {"hasAnyRole": True},
                                  "sort": [{"property": "sortOrder"}]})
    boxes = {m["id"]: m for m in jm.call("Mailbox/get", {"accountId": jm.account})["list"]}
    assert [boxes[i]["role"] for i in q["ids"]] == ["inbox", "drafts", "sent", "archive",
                                                    "junk", "trash"]
    q = jm.call("Mailbox/query", {"accountId": jm.account, "filter": {
        "operator": "NOT", "conditions": [{"hasAnyRole": True}]}})
    assert q["ids"] == [new]
    q = jm.call("Mailbox/query", {"accountId": jm.account, "filter": {"name": "q1"}})
    assert q["ids"] == [new]
    r = jm.api([["Mailbox/query", {"accountId": jm.account, "filter": {"colour": "red"}}, "0"]])
    assert r["methodResponses"][0][1]["type"] == "unsupportedFilter"
    r = jm.api([["Mailbox/query", {"accountId": jm.account, "sort": [{"property": "x"}]}, "0"]])
    assert r["methodResponses"][0][1]["type"] == "unsupportedSort"


def test_delivered_message_found_and_read_byte_exact(srv, jm):
    body = "Über alles\r\n" + "x" * 200 + "\r\n"
    m = (b"From: Carol <carol@example.org>\r\nTo: " + jm.user.encode() +
         b"\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <d1@example.org>\r\n"
         b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body.encode())
    srv.smtp_send(jm.user, [m])
    ids = query(jm, filter={"subject": "grüße"})
    assert len(ids) == 1
    e = get(jm, ids, fetchTextBodyValues=True)[0]
    assert e["subject"] == "Grüße" and e["from"] == [{"name": "Carol", "email": "carol@example.org"}]
    assert e["messageId"] == ["d1@example.org"] and e["preview"].startswith("Über alles")
    assert e["bodyValues"][e["textBody"][0]["partId"]]["value"] == body.replace("\r\n", "\n")[:-1] \
        or e["bodyValues"][e["textBody"][0]["partId"]]["value"] == body.replace("\r\n", "\n")
    # the blob is the message exactly as IMAP has it (CRLF)
    c = imap(srv, jm)
    c.select("INBOX")
    raw = c.fetch("1", "(BODY.PEEK[])")[1][0][1]
    c.logout()
    st, h, blob = jm.raw("GET", f"/jmap/download/{jm.account}/{e['blobId']}/m.eml?accept=message/rfc822")
    assert st == 200 and blob == raw and blob.endswith(m[m.index(b"\r\n\r\n"):])
    assert e["size"] == len(raw)


def state_events(buf):
    """The "changed" objects of the state events in an event stream so far."""
    text = buf.decode(errors="replace")
    return [json.loads(d)["changed"] for d in re.findall(r"event: state\ndata: (.*)\n\n", text)]


def test_push_of_a_delivery_and_an_imap_store(srv, jm):
    srv.append(jm.user, jm.pw, [msg("before")])
    jm.call("Email/query", {"accountId": jm.account})  # the mail process is up
    state = jm.call("Email/get", {"accountId": jm.account, "ids": []})["state"]
    boxes = jm.call("Mailbox/get", {"accountId": jm.account, "ids": []})["state"]
    t0 = time.monotonic()
    s = sse_connect(srv, jm.user, jm.pw, "types=Email,Mailbox&closeafter=no&ping=0")
    buf = read_until(s, lambda b: state_events(b))
    # RFC 8620 7.3: the current state of the types asked for, at once
    assert buf.startswith(b"HTTP/1.1 200 ") and time.monotonic() - t0 < 1.0, buf
    assert state_events(buf) == [{jm.account: {"Email": state, "Mailbox": boxes}}], buf
    # a delivery over SMTP (made by deliverd, not by this process): the
    # event follows the end of the SMTP transaction within a second
    srv.smtp_send(jm.user, [msg("pushed")], wait=False)
    t0 = time.monotonic()
    buf = read_until(s, lambda b: b"event: state" in b, timeout=10)
    took = time.monotonic() - t0
    ev = state_events(buf)
    assert ev, buf
    changed = ev[0][jm.account]
    assert set(changed) <= {"Email", "Mailbox"} and changed["Email"] != state
    assert took < 1.0, took
    # an IMAP STORE made by another session
    read_until(s, lambda b: False, timeout=0.6)  # the delivery's last events
    c = imap(srv, jm)
    c.select("INBOX")
    t0 = time.monotonic()
    c.store("1", "+FLAGS", "(\\Flagged)")
    buf = read_until(s, lambda b: b"event: state" in b, timeout=10)
    took = time.monotonic() - t0
    c.logout()
    assert state_events(buf) and "Email" in state_events(buf)[0][jm.account], buf
    assert took < 1.0, took
    # a change made over JMAP itself, and a stream asking for other types only
    # (closeafter=state: the current state, and the stream ends)
    s2 = sse_connect(srv, jm.user, jm.pw, "types=Thread&closeafter=state&ping=0")
    buf2 = read_until(s2, lambda b: b"\r\n0\r\n\r\n" in b, timeout=5)
    assert buf2.startswith(b"HTTP/1.1 200 ") and b"\r\n0\r\n\r\n" in buf2, buf2
    assert [list(e[jm.account]) for e in state_events(buf2)] == [["Thread"]], buf2
    eid = query(jm, filter={"subject": "before"})[0]
    jm.call("Email/set", {"accountId": jm.account, "update": {eid: {"keywords/$seen": True}}})
    buf = read_until(s, lambda b: b"event: state" in b, timeout=5)
    assert state_events(buf) and "Email" in state_events(buf)[0][jm.account], buf
    s3 = sse_connect(srv, jm.user, jm.pw, "types=Thread&closeafter=no&ping=0")
    buf3 = read_until(s3, lambda b: state_events(b), timeout=5)
    assert b"event: state" not in read_until(s3, lambda b: False, timeout=0.6)
    assert "Thread" in state_events(buf3)[0][jm.account]
    s3.close()
    s.close()
    s2.close()


def test_keywords_both_ways_with_imap(srv, jm):
    srv.append(jm.user, jm.pw, [msg("kw")])
    eid = query(jm)[0]
    state = jm.call("Email/get", {"accountId": jm.account, "ids": []})["state"]
    r = jm.call("Email/set", {"accountId": jm.account, "update": {
        eid: {"keywords/$seen": True, "keywords/$Work": True}}})
    assert r["updated"] == {eid: None}
    c = imap(srv, jm)
    c.select("INBOX")
    flags = c.fetch("1", "(FLAGS)")[1][0].decode()
    assert "\\Seen" in flags and "$work" in flags.lower()
    ch = jm.call("Email/changes", {"accountId": jm.account, "sinceState": state})
    assert ch["updated"] == [eid]
    # an IMAP STORE is seen by Email/changes and Email/get
    state = ch["newState"]
    c.store("1", "+FLAGS", "(\\Flagged)")
    c.store("1", "-FLAGS", "(\\Seen)")
    c.logout()
    ch = jm.call("Email/changes", {"accountId": jm.account, "sinceState": state})
    assert ch["updated"] == [eid] and ch["created"] == [] and ch["destroyed"] == []
    kw = get(jm, [eid], ["keywords"])[0]["keywords"]
    assert kw == {"$flagged": True, "$work": True}
    # bad keywords and properties
    r = jm.call("Email/set", {"accountId": jm.account, "update": {
        eid: {"keywords/a b": True}, "Enope": {"keywords/$seen": True}}})
    assert r["notUpdated"][eid]["type"] in ("invalidProperties", "invalidPatch")
    assert r["notUpdated"]["Enope"]["type"] == "notFound"
    r = jm.call("Email/set", {"accountId": jm.account, "update": {eid: {"subject": "x"}}})
    assert r["notUpdated"][eid]["type"] == "invalidProperties"


def test_move_keeps_the_id_and_destroy(srv, jm):
    srv.append(jm.user, jm.pw, [msg("mv")], flags="(\\Seen)")
    eid = query(jm)[0]
    boxes = mailboxes(jm)
    arch = boxes["Archive"]["id"]
    state = jm.call("Email/get", {"accountId": jm.account, "ids": []})["state"]
    r = jm.call("Email/set", {"accountId": jm.account, "update": {
        eid: {"mailboxIds": {arch: True}}}})
    assert r["updated"] == {eid: None}
    assert get(jm, [eid], ["mailboxIds", "keywords"])[0] == {
        "id": eid, "mailboxIds": {arch: True}, "keywords": {"$seen": True}}
    ch = jm.call("Email/changes", {"accountId": jm.account, "sinceState": state})
    assert ch["updated"] == [eid] and ch["destroyed"] == [] and ch["created"] == []
    c = imap(srv, jm)
    assert c.select("Archive")[1] == [b"1"] and c.select("INBOX")[1] == [b"0"]
    boxes = mailboxes(jm)
    assert boxes["Archive"]["totalEmails"] == 1 and boxes["INBOX"]["totalEmails"] == 0
    r = jm.call("Email/set", {"accountId": jm.account, "update": {
        eid: {"mailboxIds": {arch: True, boxes["Trash"]["id"]: True}}}})
    assert r["notUpdated"][eid]["type"] == "tooManyMailboxes"
    r = jm.call("Email/set", {"accountId": jm.account, "destroy": [eid, "Enope"]})
    assert r["destroyed"] == [eid] and r["notDestroyed"]["Enope"]["type"] == "notFound"
    assert c.select("Archive")[1] == [b"0"]
    c.logout()
    ch = jm.call("Email/changes", {"accountId": jm.account, "sinceState": state})
    assert ch["destroyed"] == [eid] and ch["updated"] == []


def test_query_filters_sorts_and_windows(srv, jm):
    msgs = [
        msg("apple pie", frm="Zed <zed@example.org>", date="Mon, 02 Mar 2026 10:00:00 +0000",
            body="crust and filling\r\n"),
        msg("banana split", frm="Amy <amy@example.org>", to="carl@example.test",
            date="Tue, 03 Mar 2026 10:00:00 +0000", body="ice cream " * 50 + "\r\n"),
        msg("cherry tart", frm="Bob <bob@example.org>", date="Wed, 04 Mar 2026 10:00:00 +0000",
            extra="X-Tag: urgent\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: multipart/mixed; boundary=zz\r\n",
            body="--zz\r\nContent-Type: text/plain\r\n\r\ntext\r\n--zz\r\n"
                 "Content-Type: application/pdf\r\nContent-Disposition: attachment; "
                 "filename=a.pdf\r\n\r\nPDF\r\n--zz--\r\n"),
    ]
    c = imap(srv, jm)
    for i, m in enumerate(msgs):
        c.append("INBOX", "(\\Seen)" if i == 1 else None,
                 imaplib.Time2Internaldate(1772445600 + 86400 * i), m)
    c.logout()
    byname = {}
    for e in get(jm, query(jm), ["subject"]):
        byname[e["subject"].split()[0]] = e["id"]
    a, b, ch = byname["apple"], byname["banana"], byname["cherry"]
    inbox = mailboxes(jm)["INBOX"]["id"]
    cases = [
        ({"inMailbox": inbox}, {a, b, ch}), ({"inMailboxOtherThan": [inbox]}, set()),
        ({"from": "amy"}, {b}), ({"to": "carl"}, {b}), ({"subject": "TART"}, {ch}),
        ({"body": "filling"}, {a}), ({"text": "zed"}, {a}), ({"text": "ice cream"}, {b}),
        ({"hasKeyword": "$seen"}, {b}), ({"notKeyword": "$seen"}, {a, ch}),
        ({"hasAttachment": True}, {ch}), ({"hasAttachment": False}, {a, b}),
        ({"header": ["X-Tag"]}, {ch}), ({"header": ["X-Tag", "urg"]}, {ch}),
        ({"header": ["X-Tag", "nope"]}, set()),
        ({"minSize": 600}, {b}), ({"maxSize": 600}, {a, ch}),
        ({"before": "2026-03-03T10:00:00Z"}, {a}), ({"after": "2026-03-03T10:00:00Z"}, {b, ch}),
        ({"someInThreadHaveKeyword": "$seen"}, {b}), ({"noneInThreadHaveKeyword": "$seen"}, {a, ch}),
        ({"allInThreadHaveKeyword": "$seen"}, {b}),
        ({"operator": "OR", "conditions": [{"from": "amy"}, {"from": "bob"}]}, {b, ch}),
        ({"operator": "AND", "conditions": [{"text": "a"}, {"notKeyword": "$seen"}]}, {a, ch}),
        ({"operator": "NOT", "conditions": [{"from": "amy"}, {"from": "bob"}]}, {a}),
    ]
    for flt, want in cases:
        assert set(query(jm, filter=flt)) == want, flt
    assert query(jm, sort=[{"property": "receivedAt", "isAscending": True}]) == [a, b, ch]
    assert query(jm, sort=[{"property": "receivedAt", "isAscending": False}]) == [ch, b, a]
    assert query(jm, sort=[{"property": "from"}]) == [b, ch, a]
    assert query(jm, sort=[{"property": "subject", "isAscending": False}]) == [ch, b, a]
    assert query(jm, sort=[{"property": "size"}])[0] == a
    assert query(jm, sort=[{"property": "sentAt"}]) == [a, b, ch]
    assert query(jm, sort=[{"property": "hasKeyword", "keyword": "$seen", "isAscending": False},
                           {"property": "receivedAt"}]) == [b, a, ch]
    asc = [{"property": "receivedAt", "isAscending": True}]
    r = jm.call("Email/query", {"accountId": jm.account, "sort": asc, "position": 1, "limit": 1,
                                "calculateTotal": True})
    assert r["ids"] == [b] and r["position"] == 1 and r["total"] == 3
    r = jm.call("Email/query", {"accountId": jm.account, "sort": asc, "position": -1})
    assert r["ids"] == [ch] and r["position"] == 2
    r = jm.call("Email/query", {"accountId": jm.account, "sort": asc, "anchor": b,
                                "anchorOffset": -1, "limit": 2})
    assert r["ids"] == [a, b] and r["position"] == 0
    r = jm.api([["Email/query", {"accountId": jm.account, "anchor": "Enope"}, "0"],
                ["Email/query", {"accountId": jm.account, "filter": {"foo": 1}}, "1"],
                ["Email/query", {"accountId": jm.account, "sort": [{"property": "bar"}]}, "2"]])
    assert [x[1]["type"] for x in r["methodResponses"]] == ["anchorNotFound", "unsupportedFilter",
                                                            "unsupportedSort"]


def test_threads_and_collapse(srv, jm):
    srv.append(jm.user, jm.pw, [
        msg("topic", extra="Message-ID: <t1@example.org>\r\n"),
        msg("Re: topic", extra="Message-ID: <t2@example.org>\r\nIn-Reply-To: <t1@example.org>\r\n"
                               "References: <t1@example.org>\r\n"),
        msg("other", extra="Message-ID: <o1@example.org>\r\n"),
        msg("Re: Re: topic", extra="Message-ID: <t3@example.org>\r\n"
                                   "References: <t1@example.org> <t2@example.org>\r\n")])
    es = {e["subject"]: e for e in get(jm, query(jm), ["subject", "threadId"])}
    t = es["topic"]["threadId"]
    assert es["Re: topic"]["threadId"] == t == es["Re: Re: topic"]["threadId"]
    assert es["other"]["threadId"] != t
    th = jm.call("Thread/get", {"accountId": jm.account, "ids": [t, "Tnope"]})
    assert th["list"][0]["emailIds"] == [es["topic"]["id"], es["Re: topic"]["id"],
                                         es["Re: Re: topic"]["id"]]
    assert th["notFound"] == ["Tnope"]
    assert len(query(jm, collapseThreads=True)) == 2
    inbox = mailboxes(jm)["INBOX"]
    assert inbox["totalThreads"] == 2 and inbox["totalEmails"] == 4
    state = th["state"]
    r = jm.call("Email/set", {"accountId": jm.account, "destroy": [es["other"]["id"]]})
    ch = jm.call("Thread/changes", {"accountId": jm.account, "sinceState": state})
    assert ch["destroyed"] == [es["other"]["threadId"]]


def imap_threads(srv, jm):
    """{EMAILID: THREADID} of INBOX over a fresh IMAP session."""
    c = imap(srv, jm)
    try:
        c.select("INBOX")
        typ, data = c.fetch("1:*", "(EMAILID THREADID)")
        assert typ == "OK", data
        pairs = re.findall(rb"EMAILID \((E[0-9a-f]{24})\) THREADID \((T[0-9a-f]{24})\)",
                           b"\n".join(data))
        assert len(pairs) == len(data), data  # never NIL
        return {e.decode(): t.decode() for e, t in pairs}
    finally:
        c.logout()


def test_imap_threadid_is_the_jmap_thread(srv, jm):
    """RFC 8474 THREADID: a delivered message and its reply share one thread
    id, an unrelated message has another, the same ids JMAP gives as threadId,
    whichever protocol asks first, and they survive a new login."""
    srv.smtp_send(jm.user, [
        msg("plan", extra="Message-ID: <p1@example.org>\r\n"),
        msg("Re: plan", extra="Message-ID: <p2@example.org>\r\nIn-Reply-To: <p1@example.org>\r\n"
                              "References: <p1@example.org>\r\n"),
        msg("unrelated", extra="Message-ID: <u1@example.org>\r\n")])
    # IMAP asks first: imapd assigns the threads
    first = imap_threads(srv, jm)
    c = imap(srv, jm)
    c.select("INBOX")
    typ, data = c.fetch("1:3", "(EMAILID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subj = {}
    for part in data:
        if isinstance(part, tuple):
            e = re.search(rb"EMAILID \((E[0-9a-f]{24})\)", part[0]).group(1).decode()
            subj[part[1].decode().split(":", 1)[1].strip()] = e
    plan, reply, other = (first[subj[k]] for k in ("plan", "Re: plan", "unrelated"))
    assert plan == reply != other
    typ, data = c.search(None, "THREADID", plan)
    assert data == [b"1 2"], data
    c.uid("SEARCH", "RETURN", "(COUNT)", "THREADID", other)
    typ, data = c.response("ESEARCH")
    assert data[0] and b"COUNT 1" in data[0], data
    c.logout()
    # JMAP agrees, and a new session still says the same
    es = get(jm, query(jm), ["threadId"])
    assert {e["id"]: e["threadId"] for e in es} == first
    th = jm.call("Thread/get", {"accountId": jm.account, "ids": [plan]})["list"][0]
    assert th["emailIds"] == [subj["plan"], subj["Re: plan"]]
    assert imap_threads(srv, jm) == first
    # JMAP sees a new reply first: IMAP gives the thread JMAP gave it
    srv.smtp_send(jm.user, [msg("Re: Re: plan", extra="Message-ID: <p3@example.org>\r\n"
                                                     "References: <p1@example.org> <p2@example.org>\r\n")])
    es = {e["id"]: e["threadId"] for e in get(jm, query(jm), ["threadId"])}
    assert len(es) == 4 and list(es.values()).count(plan) == 3
    assert imap_threads(srv, jm) == es


def test_create_from_parts(srv, jm):
    st, _, b = jm.raw("POST", f"/jmap/upload/{jm.account}/", b"%PDF-1.4 binary \x00\xff",
                      {"Content-Type": "application/pdf"})
    blob = json.loads(b)["blobId"]
    drafts = mailboxes(jm)["Drafts"]["id"]
    r = jm.call("Email/set", {"accountId": jm.account, "create": {"d": {
        "mailboxIds": {drafts: True}, "keywords": {"$draft": True, "$seen": True},
        "from": [{"name": "Jöe", "email": jm.user}], "to": [{"email": "x@example.org"}],
        "subject": "Draft: ünïcode", "header:X-Client:asText": "tern-test",
        "textBody": [{"partId": "t", "type": "text/plain"}],
        "htmlBody": [{"partId": "h", "type": "text/html"}],
        "attachments": [{"blobId": blob, "type": "application/pdf", "name": "report é.pdf"}],
        "bodyValues": {"t": {"value": "Hello ünïcode\nsecond line"},
                       "h": {"value": "<p>Hello <b>ünïcode</b></p>"}}}}})
    created = r["created"]["d"]
    e = get(jm, [created["id"]], ["subject", "from", "keywords", "textBody", "htmlBody",
                                  "attachments", "header:X-Client:asText", "bodyValues"],
            fetchAllBodyValues=True)[0]
    assert e["subject"] == "Draft: ünïcode" and e["from"][0]["name"] == "Jöe"
    assert e["keywords"] == {"$draft": True, "$seen": True}
    assert e["header:X-Client:asText"] == "tern-test"
    vals = e["bodyValues"]
    assert vals[e["textBody"][0]["partId"]]["value"].startswith("Hello ünïcode\nsecond line")
    assert vals[e["htmlBody"][0]["partId"]]["value"].startswith("<p>Hello <b>ünïcode</b></p>")
    att = e["attachments"][0]
    assert att["name"] == "report é.pdf" and att["type"] == "application/pdf"
    st, _, data = jm.raw("GET", f"/jmap/download/{jm.account}/{att['blobId']}/r.pdf")
    assert data == b"%PDF-1.4 binary \x00\xff"
    # IMAP sees the same structure
    c = imap(srv, jm)
    c.select("Drafts")
    data = c.fetch("1", "(FLAGS BODYSTRUCTURE)")[1]
    bs = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data).decode().lower()
    c.logout()
    assert "\\draft" in bs and '"alternative"' in bs and '"mixed"' in bs and '"pdf"' in bs
    r = jm.call("Email/set", {"accountId": jm.account, "create": {
        "x": {"mailboxIds": {drafts: True}, "attachments": [{"blobId": "Gnope"}]},
        "y": {"mailboxIds": {}}, "z": {"mailboxIds": {drafts: True}, "id": "E1"},
        "w": {"mailboxIds": {drafts: True}, "subject": "a\r\nBcc: evil@example.org"}}})
    assert r["notCreated"]["x"]["type"] == "blobNotFound"
    assert {k: v["type"] for k, v in r["notCreated"].items() if k != "x"} == {
        "y": "invalidProperties", "z": "invalidProperties", "w": "invalidProperties"}


def smime_key(srv, jm, tmp_path):
    """An S/MIME certificate made and imported for the user: (key, cert) paths."""
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout", key, "-out",
                    cert, "-nodes", "-days", "30", "-subj", f"/emailAddress={jm.user}",
                    "-addext", "extendedKeyUsage=emailProtection"], check=True,
                   capture_output=True, timeout=120)
    srv.ctl("user", "key", jm.user, "import", str(cert))
    return key, cert


def cms_decrypt(path, key, cert):
    return subprocess.run(["openssl", "cms", "-decrypt", "-in", path, "-recip", cert, "-inkey",
                           key], check=True, capture_output=True, timeout=60).stdout


def files_holding(top, needle):
    """The regular files under top whose bytes hold needle."""
    paths = (os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs)
    return [p for p in paths if os.path.isfile(p) and not os.path.islink(p)
            and needle in pathlib.Path(p).read_bytes()]


def test_created_email_is_sealed_to_the_users_key(srv, jm, tmp_path):
    """Encryption at rest (tern.conf encrypt_append, on by default): what
    Email/set creates is sealed to the user's key like an IMAP APPEND, and
    opens again with the private key; no clear copy is left in the Maildir."""
    key, cert = smime_key(srv, jm, tmp_path)
    token = "tok" + uuid.uuid4().hex
    drafts = mailboxes(jm)["Drafts"]["id"]
    r = jm.call("Email/set", {"accountId": jm.account, "create": {"d": {
        "mailboxIds": {drafts: True}, "subject": f"secret {token}",
        "textBody": [{"partId": "t", "type": "text/plain"}],
        "bodyValues": {"t": {"value": f"body {token}"}}}}})
    assert "d" in r["created"], r
    cur = os.path.join(srv.maildir(jm.user, "Drafts"), "cur")
    (name,) = os.listdir(cur)
    with open(os.path.join(cur, name), "rb") as f:
        stored = f.read()
    head = stored.split(b"\n\n", 1)[0]
    assert b"application/pkcs7-mime" in head and token.encode() not in stored
    inner = cms_decrypt(os.path.join(cur, name), key, cert)
    assert f"body {token}".encode() in inner
    assert files_holding(srv.maildir(jm.user), token.encode()) == []


def test_uploads_of_a_user_with_a_key_are_never_on_disk_in_clear(srv, jm, tmp_path):
    """An upload of a user with a key waits in tern-blobs/ sealed with a key
    only the mail process holds: its token is in no file under the mail or
    spool directories, nor is the SHA-256 of its content (the id of a clear
    upload); download still gives the same bytes, Email/import stores it
    sealed to the user's key, and an attachment made from one is intact."""
    key, cert = smime_key(srv, jm, tmp_path)
    token = "upl" + uuid.uuid4().hex
    raw = msg(f"up {token}", to=jm.user, body=f"upload body {token}\r\n")
    # over 64 kB, so it reaches the mail process as a memfd, not inline
    big = (f"attachment {token}\n" * 4000).encode()
    ids = {}
    for name, data, ctype in (("raw", raw, "message/rfc822"), ("big", big, "text/plain")):
        st, _, body = jm.raw("POST", f"/jmap/upload/{jm.account}/", data, {"Content-Type": ctype})
        assert st == 201, body
        up = json.loads(body)
        assert up["size"] == len(data)
        ids[name] = up["blobId"]
        digest = hashlib.sha256(data).hexdigest()[:40]
        assert digest not in up["blobId"]
        st, _, back = jm.raw("GET", f"/jmap/download/{jm.account}/{up['blobId']}/x")
        assert st == 200 and back == data
    top = srv.dir
    assert files_holding(top, token.encode()) == []
    blobs = os.listdir(os.path.join(srv.maildir(jm.user), "tern-blobs"))
    assert sorted(blobs) == sorted(ids.values())
    sent = mailboxes(jm)["Sent"]["id"]
    r = jm.api([["Email/import", {"accountId": jm.account, "emails": {
        "i": {"blobId": ids["raw"], "mailboxIds": {sent: True}}}}, "0"],
        ["Email/set", {"accountId": jm.account, "create": {"d": {
            "mailboxIds": {sent: True}, "subject": "with attachment",
            "textBody": [{"partId": "t", "type": "text/plain"}],
            "bodyValues": {"t": {"value": "see attached"}},
            "attachments": [{"blobId": ids["big"], "type": "text/plain",
                             "name": "a.txt"}]}}}, "1"]])["methodResponses"]
    assert "i" in r[0][1]["created"], r[0][1]
    assert "d" in r[1][1]["created"], r[1][1]
    assert files_holding(top, token.encode()) == []
    cur = os.path.join(srv.maildir(jm.user, "Sent"), "cur")
    inners = [cms_decrypt(os.path.join(cur, n), key, cert) for n in sorted(os.listdir(cur))]
    assert len(inners) == 2
    assert any(f"upload body {token}".encode() in i for i in inners)
    b64 = [i for i in inners if b"a.txt" in i]
    assert len(b64) == 1
    # the attachment travels base64: find the part's body and decode it
    body = b64[0].replace(b"\r\n", b"\n").split(b'filename="a.txt"')[1].split(b"\n\n", 1)[1]
    assert base64.b64decode(body.split(b"\n--")[0]) == big
    # a sealed file that was changed on disk is not given out
    path = pathlib.Path(srv.maildir(jm.user), "tern-blobs", ids["raw"])
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    st, _, _ = jm.raw("GET", f"/jmap/download/{jm.account}/{ids['raw']}/x")
    assert st == 404


def test_import_and_copy(srv, jm):
    raw = (b"From: Joe <joe@example.org>\r\nTo: " + jm.user.encode() +
           b"\r\nSubject: imported\r\nMessage-ID: <imp1@example.org>\r\n"
           b"Date: Tue, 03 Mar 2026 09:00:00 +0000\r\n\r\nimported body\r\n")
    blob = json.loads(jm.raw("POST", f"/jmap/upload/{jm.account}/", raw,
                             {"Content-Type": "message/rfc822"})[2])["blobId"]
    junk = json.loads(jm.raw("POST", f"/jmap/upload/{jm.account}/", b"\x00\x01 not mail",
                             {"Content-Type": "application/octet-stream"})[2])["blobId"]
    boxes = mailboxes(jm)
    inbox, sent = boxes["INBOX"]["id"], boxes["Sent"]["id"]
    state = jm.call("Email/get", {"accountId": jm.account, "ids": []})["state"]
    r = jm.api([["Email/import", {"accountId": jm.account, "ifInState": state, "emails": {
        "i1": {"blobId": blob, "mailboxIds": {sent: True}, "keywords": {"$seen": True},
               "receivedAt": "2026-03-03T09:00:05Z"},
        "bad": {"blobId": junk, "mailboxIds": {sent: True}},
        "gone": {"blobId": "Gnope", "mailboxIds": {sent: True}},
        "two": {"blobId": blob, "mailboxIds": {sent: True, inbox: True}},
        "none": {"blobId": blob, "mailboxIds": {}}}}, "0"],
        ["Email/get", {"accountId": jm.account, "ids": ["#i1"],
                       "properties": ["mailboxIds", "keywords", "receivedAt", "subject",
                                      "blobId", "size"]}, "1"]])["methodResponses"]
    imp = r[0][1]
    assert imp["oldState"] == state and imp["newState"] != state
    created = imp["created"]["i1"]
    assert {k: v["type"] for k, v in imp["notCreated"].items()} == {
        "bad": "invalidEmail", "gone": "blobNotFound", "two": "tooManyMailboxes",
        "none": "invalidProperties"}
    e = r[1][1]["list"][0]
    assert e["id"] == created["id"] and e["mailboxIds"] == {sent: True}
    assert e["keywords"] == {"$seen": True} and e["receivedAt"] == "2026-03-03T09:00:05Z"
    assert e["subject"] == "imported" and e["size"] == len(raw) == created["size"]
    st, _, data = jm.raw("GET", f"/jmap/download/{jm.account}/{created['blobId']}/m.eml")
    assert st == 200 and data == raw
    # IMAP sees it in Sent, \Seen, with the internal date asked for
    c = imap(srv, jm)
    c.select("Sent")
    f = c.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")[1][0]
    c.logout()
    assert b"\\Seen" in f[0] and b'"03-Mar-2026 09:00:05 +0000"' in f[0] and f[1] == raw
    # ifInState, and Email/copy (one account: nothing to copy from)
    r = jm.api([["Email/import", {"accountId": jm.account, "ifInState": state, "emails": {}}, "0"],
                ["Email/copy", {"accountId": jm.account, "fromAccountId": "aother",
                                "create": {}}, "1"],
                ["Email/import", {"accountId": jm.account, "emails": []}, "2"]])["methodResponses"]
    assert r[0][1]["type"] == "stateMismatch" and r[1][1]["type"] == "fromAccountNotFound"
    assert r[2][1]["type"] == "invalidArguments"


def forwarded_message(jm):
    """A message carrying a message/rfc822 attachment that itself has a text
    body and a base64 attachment: (outer bytes, inner bytes, PDF bytes)."""
    pdf = b"%PDF-1.4 inner \x00\xff\x01"
    inner = (b"From: Dora <dora@example.org>\r\nTo: joe@example.org\r\n"
             b"Subject: =?UTF-8?Q?Inner_=C3=BCber?=\r\nMessage-ID: <inner@example.org>\r\n"
             b"Date: Wed, 04 Mar 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=in\r\n\r\n"
             b"--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
             b"inner text \xc3\xbc " + b"y" * 300 + b"\r\n"
             b"--in\r\nContent-Type: application/pdf; name=r.pdf\r\n"
             b"Content-Disposition: attachment; filename=r.pdf\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(pdf) +
             b"\r\n--in--\r\n")
    outer = (b"From: Joe <joe@example.org>\r\nTo: " + jm.user.encode() +
             b"\r\nSubject: Fwd: inner\r\nMessage-ID: <outer@example.org>\r\n"
             b"In-Reply-To: <inner@example.org>\r\n"
             b"Date: Wed, 04 Mar 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=out\r\n\r\n"
             b"--out\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
             b"--out\r\nContent-Type: message/rfc822\r\n"
             b"Content-Disposition: attachment; filename=inner.eml\r\n\r\n" + inner +
             b"\r\n--out--\r\n")
    return outer, inner, pdf


def upload(jm, data, ctype="message/rfc822"):
    st, _, b = jm.raw("POST", f"/jmap/upload/{jm.account}/", data, {"Content-Type": ctype})
    assert st == 201, b
    return json.loads(b)["blobId"]


def test_parse_uploaded_blobs_and_attached_messages(srv, jm):
    """Email/parse (RFC 8621 4.9): an uploaded message with the default
    properties; its message/rfc822 attachment parsed by the part's blob id,
    whose own parts download by the nested ids parse gives; notParsable and
    notFound; a stored message's attached message parsed the same way."""
    outer, inner, pdf = forwarded_message(jm)
    blob, junk = upload(jm, outer), upload(jm, b"\x00\x01 not mail", "application/octet-stream")
    r = jm.call("Email/parse", {"accountId": jm.account, "fetchTextBodyValues": True,
                                "blobIds": [blob, junk, "G" + "0" * 40, "Gnope"]})
    assert r["notParsable"] == [junk] and r["notFound"] == ["G" + "0" * 40, "Gnope"]
    e = r["parsed"][blob]
    assert set(e) == {"messageId", "inReplyTo", "references", "sender", "from", "to", "cc",
                      "bcc", "replyTo", "subject", "sentAt", "hasAttachment", "preview",
                      "bodyValues", "textBody", "htmlBody", "attachments"}
    assert e["subject"] == "Fwd: inner" and e["from"] == [{"name": "Joe", "email": "joe@example.org"}]
    assert e["inReplyTo"] == ["inner@example.org"] and e["sentAt"] == "2026-03-04T09:00:00+00:00"
    assert e["hasAttachment"] and e["preview"] == "see below"
    assert e["bodyValues"][e["textBody"][0]["partId"]]["value"] == "see below"
    att = e["attachments"][0]
    assert att["type"] == "message/rfc822" and att["name"] == "inner.eml"
    assert att["blobId"] == blob + "-2"
    st, _, data = jm.raw("GET", f"/jmap/download/{jm.account}/{att['blobId']}/i.eml")
    assert st == 200 and data == inner
    # the attached message, by its part's blob id: metadata null, size its length
    props = ["id", "blobId", "threadId", "mailboxIds", "keywords", "receivedAt", "size",
             "subject", "attachments", "bodyValues", "textBody", "header:Subject:asText"]
    r = jm.call("Email/parse", {"accountId": jm.account, "blobIds": [att["blobId"]],
                                "properties": props, "fetchAllBodyValues": True,
                                "maxBodyValueBytes": 13, "bodyProperties": ["partId", "blobId",
                                                                            "type", "name"]})
    assert r["notParsable"] is None and r["notFound"] is None
    i = r["parsed"][att["blobId"]]
    assert {k: i[k] for k in ("id", "threadId", "mailboxIds", "keywords", "receivedAt")} == dict.fromkeys(
        ("id", "threadId", "mailboxIds", "keywords", "receivedAt"))
    assert i["blobId"] == att["blobId"] and i["size"] == len(inner)
    assert i["subject"] == "Inner über" and i["header:Subject:asText"] == "Inner über"
    v = i["bodyValues"][i["textBody"][0]["partId"]]
    assert v == {"value": "inner text ü", "isEncodingProblem": False, "isTruncated": True}
    assert i["attachments"] == [{"partId": "2", "blobId": blob + "-2-2", "type": "application/pdf",
                                 "name": "r.pdf"}]
    st, _, data = jm.raw("GET", f"/jmap/download/{jm.account}/{blob}-2-2/r.pdf")
    assert st == 200 and data == pdf
    # a leaf that is not a message, and ids that are no part, are not parsed or found
    r = jm.call("Email/parse", {"accountId": jm.account,
                                "blobIds": [blob + "-1", blob + "-9", blob + "-02", blob + "-2-"]})
    assert r["parsed"] is None and r["notParsable"] == [blob + "-1"]
    assert r["notFound"] == [blob + "-9", blob + "-02", blob + "-2-"]
    # a stored message's attached message: the part blob of Email/get
    srv.append(jm.user, jm.pw, [outer])
    eid = query(jm, filter={"subject": "Fwd: inner"})[0]
    pb = get(jm, [eid], ["attachments"])[0]["attachments"][0]["blobId"]
    assert pb.startswith("P") and pb.endswith("-2")
    r = jm.call("Email/parse", {"accountId": jm.account, "blobIds": [pb, pb + "x"],
                                "properties": ["subject", "attachments"]})
    assert r["parsed"][pb]["subject"] == "Inner über" and r["notFound"] == [pb + "x"]
    st, _, data = jm.raw("GET", f"/jmap/download/{jm.account}/{r['parsed'][pb]['attachments'][0]['blobId']}/r.pdf")
    assert st == 200 and data == pdf
    st, _, _ = jm.raw("GET", f"/jmap/download/{jm.account}/{pb}x/r.pdf")
    assert st == 404
    # arguments
    r = jm.api([["Email/parse", {"accountId": jm.account}, "0"],
                ["Email/parse", {"accountId": jm.account, "blobIds": [1]}, "1"],
                ["Email/parse", {"accountId": jm.account, "blobIds": [blob],
                                 "properties": ["nope"]}, "2"],
                ["Email/parse", {"accountId": jm.account, "blobIds": [blob],
                                 "ids": [blob]}, "3"],
                ["Email/parse", {"accountId": jm.account, "blobIds": [blob] * 1000}, "4"],
                ["Email/parse", {"accountId": jm.account, "blobIds": [blob],
                                 "maxBodyValueBytes": 0}, "5"]])["methodResponses"]
    assert [x[1]["type"] for x in r] == ["invalidArguments"] * 4 + ["requestTooLarge",
                                                                     "invalidArguments"]


def test_search_snippets(srv, jm):
    long = "Lorem ipsum dolor sit amet. " * 20
    srv.append(jm.user, jm.pw, [
        msg("Meeting about the budget", body=long + "\r\nWe should discuss the Budget & "
            "<tags> for 2027.\r\n" + long + "\r\n"),
        msg("Lunch", body="budget lunch\r\n"),
        msg("Unrelated", body="nothing here\r\n")])
    flt = {"text": "budget"}
    ids = query(jm, filter=flt, sort=[{"property": "subject", "isAscending": True}])
    assert len(ids) == 2
    r = jm.call("SearchSnippet/get", {"accountId": jm.account, "filter": flt,
                                      "emailIds": ids + ["Enope"]})
    by = {x["emailId"]: x for x in r["list"]}
    assert r["notFound"] == ["Enope"] and set(by) == set(ids)
    lunch, meeting = by[ids[0]], by[ids[1]]
    assert lunch["subject"] is None and lunch["preview"] == "<mark>budget</mark> lunch"
    assert meeting["subject"] == "Meeting about the <mark>budget</mark>"
    p = meeting["preview"]
    assert "discuss the <mark>Budget</mark> &amp; &lt;tags&gt; for 2027." in p, p
    assert len(p) < 400 and not p.startswith("Lorem ipsum dolor sit amet. Lorem")
    # inside an operator; no filter: nothing to mark
    r = jm.call("SearchSnippet/get", {"accountId": jm.account, "emailIds": ids[:1], "filter": {
        "operator": "AND", "conditions": [{"subject": "lunch"}, {"hasAttachment": False}]}})
    assert r["list"] == [{"emailId": ids[0], "subject": "<mark>Lunch</mark>", "preview": None}]
    assert r["notFound"] is None
    r = jm.call("SearchSnippet/get", {"accountId": jm.account, "emailIds": ids[:1]})
    assert r["list"][0]["subject"] is None and r["list"][0]["preview"] is None
    r = jm.api([["SearchSnippet/get", {"accountId": jm.account, "filter": {"operator": "AND"},
                                       "emailIds": ids}, "0"],
                ["SearchSnippet/get", {"accountId": jm.account, "emailIds": "x"}, "1"]])
    assert [m[1]["type"] for m in r["methodResponses"]] == ["invalidArguments"] * 2


def test_changes_with_max_and_query_changes(srv, jm):
    state = jm.call("Email/get", {"accountId": jm.account, "ids": []})["state"]
    qstate = jm.call("Email/query", {"accountId": jm.account})["queryState"]
    for i in range(3):
        srv.append(jm.user, jm.pw, [msg(f"c{i}")])
        query(jm)  # a sync per delivery: three separate changes
    ch = jm.call("Email/changes", {"accountId": jm.account, "sinceState": state, "maxChanges": 2})
    assert len(ch["created"]) == 2 and ch["hasMoreChanges"]
    ch2 = jm.call("Email/changes", {"accountId": jm.account, "sinceState": ch["newState"]})
    assert len(ch2["created"]) == 1 and not ch2["hasMoreChanges"]
    all_ids = set(query(jm))
    assert set(ch["created"] + ch2["created"]) == all_ids
    qc = jm.call("Email/queryChanges", {"accountId": jm.account, "sinceQueryState": qstate,
                                        "calculateTotal": True})
    assert {a["id"] for a in qc["added"]} == all_ids and qc["total"] == 3
    r = jm.api([["Email/queryChanges", {"accountId": jm.account, "sinceQueryState": qstate,
                                        "maxChanges": 1}, "0"]])
    assert r["methodResponses"][0][1]["type"] == "tooManyChanges"


def test_raw_header_form_keeps_folding(srv, jm):
    """RFC 8621 4.1.2.1: the Raw form is the octets after the colon up to the
    field's final CRLF: the leading space and the folding CRLFs stay (they
    came back unfolded and trimmed); the parsed forms still unfold."""
    folded = "X-Folded: first part\r\n\tsecond part\r\n"
    spaced = "X-Spaced:   padded  \r\n"
    srv.append(jm.user, jm.pw, [msg("raw form", extra=folded + spaced)])
    eid = query(jm, filter={"subject": "raw form"})[0]
    e = get(jm, [eid], ["headers", "header:X-Folded", "header:X-Folded:asRaw:all",
                        "header:X-Folded:asText", "header:X-Spaced", "header:Subject:asText"])[0]
    assert e["header:X-Folded"] == " first part\r\n\tsecond part"
    assert e["header:X-Folded:asRaw:all"] == [" first part\r\n\tsecond part"]
    assert e["header:X-Folded:asText"] == "first part second part"
    assert e["header:X-Spaced"] == "   padded  "
    assert e["header:Subject:asText"] == "raw form"
    assert {"name": "X-Folded", "value": " first part\r\n\tsecond part"} in e["headers"]
    assert {"name": "Subject", "value": " raw form"} in e["headers"]


def test_query_ties_page_without_repeats(srv, jm):
    """Messages with the same receivedAt (whole seconds) sort in one order
    every time: pages by position and by anchor neither repeat nor skip."""
    when = imaplib.Time2Internaldate(1772445600)
    c = imap(srv, jm)
    for i in range(7):
        c.append("INBOX", None, when, msg(f"tie {i}"))
    c.logout()
    full = query(jm, sort=[{"property": "receivedAt", "isAscending": False}])
    assert len(full) == 7
    for _ in range(3):
        assert query(jm, sort=[{"property": "receivedAt", "isAscending": False}]) == full
    pages = []
    for pos in range(0, 7, 2):
        pages += query(jm, sort=[{"property": "receivedAt", "isAscending": False}],
                       position=pos, limit=2)
    assert pages == full
    after = query(jm, sort=[{"property": "receivedAt", "isAscending": False}],
                  anchor=full[2], anchorOffset=1, limit=3)
    assert after == full[3:6]


def test_newest_page_is_the_full_querys_page(srv, jm):
    """The webmail's list (one folder, receivedAt descending, a page) is
    answered from the index's dates without loading the folder
    (email_query_recent.c): its pages, totals and states are those of the
    full query. Dates out of UID order, equal dates, threads, and a message
    in another folder of one of the threads."""
    days = [3, 1, 2, 2, 0, 3, 2, 1, 2, 0, 3]
    c = imap(srv, jm)
    for i, d in enumerate(days):
        thread = (f"References: <root{i % 3}@example.org>\r\n" if i % 4 else
                  f"Message-ID: <root{i % 3}@example.org>\r\n")
        c.append("INBOX", "(\\Seen)" if i % 2 else None,
                 imaplib.Time2Internaldate(1772445600 + 86400 * d), msg(f"page {i}", extra=thread))
    c.append("Archive", None, imaplib.Time2Internaldate(1772445600 + 86400 * 9),
             msg("elsewhere", extra="References: <root1@example.org>\r\n"))
    c.logout()
    inbox = mailboxes(jm)["INBOX"]["id"]
    desc = [{"property": "receivedAt", "isAscending": False}]
    for collapse in (False, True):
        # under an operator the filter takes the full path
        full = jm.call("Email/query", {"accountId": jm.account, "sort": desc,
                                       "collapseThreads": collapse, "filter": {
                                           "operator": "AND", "conditions": [{"inMailbox": inbox}]}})
        want = full["ids"]
        assert len(want) == (3 if collapse else len(days))
        calls = [["Email/query", {"accountId": jm.account, "filter": {"inMailbox": inbox},
                                  "sort": s, "collapseThreads": collapse, "position": p,
                                  "limit": n, "calculateTotal": True}, f"{p}.{n}.{i}"]
                 for i, s in enumerate((desc, None)) for p in (0, 1, 2, 3, 5, 10, 11, 40)
                 for n in (0, 1, 3, 50) if i == 0 or n == 3]
        while calls:
            batch, calls = calls[:16], calls[16:]
            for name, r, cid in jm.api(batch)["methodResponses"]:
                p, n, _ = map(int, cid.split("."))
                assert name == "Email/query", r
                assert r["ids"] == want[p:p + n], (collapse, p, n)
                assert (r["total"], r["position"]) == (len(want), min(p, len(want)))
                assert r["queryState"] == full["queryState"] and r["canCalculateChanges"]


def test_get_properties_and_errors(jm):
    r = jm.api([["Email/get", {"accountId": jm.account}, "0"],
                ["Email/get", {"accountId": jm.account, "ids": [], "properties": ["nope"]}, "1"],
                ["Email/get", {"accountId": "other", "ids": []}, "2"],
                ["Email/get", {"accountId": jm.account, "ids": ["x"] * 501}, "3"],
                ["Email/set", {"accountId": jm.account, "ifInState": "stale.0",
                               "destroy": []}, "4"]])
    assert [x[1]["type"] for x in r["methodResponses"]] == [
        "requestTooLarge", "invalidArguments", "accountNotFound", "requestTooLarge",
        "stateMismatch"]


VAC = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"]


def vac(jm, name, args):
    r = jm.api([[name, {"accountId": jm.account, **args}, "v"]], using=VAC)
    return r["methodResponses"][0][:2]


def inbox_messages(srv, user):
    """The messages in user's INBOX (new and cur), parsed."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(srv.maildir(user), sub)
        for n in sorted(os.listdir(d)):
            out.append(email.message_from_bytes(pathlib.Path(d, n).read_bytes(),
                                                policy=email.policy.default))
    return out


def test_vacation_response_get_set(srv, jm):
    """RFC 8621 8: one singleton, advertised; create and destroy refused;
    updates checked and stored, with a new state."""
    s = jm.get_session()
    assert "urn:ietf:params:jmap:vacationresponse" in s["capabilities"]
    assert s["primaryAccounts"]["urn:ietf:params:jmap:vacationresponse"] == jm.account
    name, r = vac(jm, "VacationResponse/get", {"ids": None})
    assert name == "VacationResponse/get" and r["notFound"] == []
    assert r["list"] == [{"id": "singleton", "isEnabled": False, "fromDate": None,
                          "toDate": None, "subject": None, "textBody": None, "htmlBody": None}]
    state = r["state"]
    _, r = vac(jm, "VacationResponse/get", {"ids": ["singleton", "other"],
                                            "properties": ["isEnabled"]})
    assert r["list"] == [{"id": "singleton", "isEnabled": False}] and r["notFound"] == ["other"]
    _, r = vac(jm, "VacationResponse/set", {
        "create": {"c": {"isEnabled": True}}, "destroy": ["singleton"],
        "update": {"singleton": {"isEnabled": "yes"}, "x": {"isEnabled": True}}})
    assert r["notCreated"]["c"]["type"] == "singleton"
    assert r["notDestroyed"]["singleton"]["type"] == "singleton"
    assert r["notUpdated"]["singleton"]["type"] == "invalidProperties"
    assert r["notUpdated"]["x"]["type"] == "notFound" and r["newState"] == state
    _, r = vac(jm, "VacationResponse/set", {"ifInState": state, "update": {"singleton": {
        "isEnabled": True, "toDate": "2099-01-01T00:00:00Z", "subject": "Away"}}})
    assert r["updated"] == {"singleton": None} and r["newState"] != state
    name, r = vac(jm, "VacationResponse/set", {"ifInState": state, "update": {}})
    assert name == "error" and r["type"] == "stateMismatch"
    _, r = vac(jm, "VacationResponse/get", {})
    assert r["list"][0]["isEnabled"] is True and r["list"][0]["subject"] == "Away"
    # without the capability in "using", the method is unknown
    r = jm.api([["VacationResponse/get", {"accountId": jm.account}, "v"]])
    assert r["methodResponses"][0][1]["type"] == "unknownMethod"


def test_vacation_reply_once_per_sender_none_for_lists(srv, jm):
    """With the response on, the local agent answers RFC 3834-style: one
    reply for two messages from one sender, from the user, auto-replied, in
    reply to the first; none to list mail, automatic mail or the null
    sender. Each message itself is delivered as always."""
    token = "vac" + uuid.uuid4().hex
    _, r = vac(jm, "VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "fromDate": "2020-01-01T00:00:00Z", "toDate": "2099-01-01T00:00:00Z",
        "textBody": f"Back on Monday. {token}"}}})
    assert r["updated"] == {"singleton": None}, r
    friend, lister, robot = (srv.new_user()[0] for _ in range(3))

    def mail(frm, n, extra=""):
        return (f"From: {frm}\r\nTo: {jm.user}\r\nSubject: hello {n}\r\n"
                f"Message-ID: <m{n}.{token}@example.test>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000"
                f"\r\n{extra}\r\nbody {n}\r\n")
    srv.smtp_send(jm.user, [mail(friend, 1), mail(friend, 2)], sender=friend)
    srv.smtp_send(jm.user, [mail(lister, 3, "List-Id: <list.example.test>\r\n")], sender=lister)
    srv.smtp_send(jm.user, [mail(robot, 4, "Auto-Submitted: auto-generated\r\n")], sender=robot)
    srv.smtp_send(jm.user, [mail(robot, 5)], sender="")
    assert wait_for(srv.queue_empty, 30)
    assert len(inbox_messages(srv, jm.user)) == 5
    (reply,) = inbox_messages(srv, friend)
    assert reply["From"] == jm.user and reply["To"] == friend
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["In-Reply-To"] == f"<m1.{token}@example.test>"
    assert reply["Subject"] == "Auto: hello 1" and reply["Return-Path"] == "<>"
    assert reply.get_content() == f"Back on Monday. {token}"
    assert inbox_messages(srv, lister) == [] and inbox_messages(srv, robot) == []
    # a changed response goes to everyone again; switched off, nothing goes
    vac(jm, "VacationResponse/set", {"update": {"singleton": {"subject": "Still away"}}})
    srv.smtp_send(jm.user, [mail(friend, 6)], sender=friend)
    assert wait_for(srv.queue_empty, 30)
    replies = inbox_messages(srv, friend)
    assert sorted(m["Subject"] for m in replies) == ["Auto: hello 1", "Still away"]
    vac(jm, "VacationResponse/set", {"update": {"singleton": {"isEnabled": False}}})
    srv.smtp_send(jm.user, [mail(lister, 7)], sender=lister)
    assert wait_for(srv.queue_empty, 30)
    assert inbox_messages(srv, lister) == []


def changes(jm, kind, since):
    return jm.call(f"{kind}/changes", {"accountId": jm.account, "sinceState": since})


def state_of(jm, kind):
    return jm.call(f"{kind}/get", {"accountId": jm.account, "ids": []})["state"]


def test_changes_follow_a_concurrent_imap_session(srv, jm):
    """Email/changes and Mailbox/changes against an IMAP session that stays
    selected while JMAP reads: each change shows once, with the state /get
    gives, and a STORE that changes nothing is no change (no new MODSEQ)."""
    srv.append(jm.user, jm.pw, [msg("cc1"), msg("cc2"), msg("cc3")])
    by_subject = {e["subject"]: e["id"] for e in get(jm, query(jm), ["subject"])}
    e1, e2, e3 = by_subject["cc1"], by_subject["cc2"], by_subject["cc3"]
    boxes = jm.call("Mailbox/get", {"accountId": jm.account})["list"]
    inbox = next(m for m in boxes if m["role"] == "inbox")
    est, mst = state_of(jm, "Email"), state_of(jm, "Mailbox")
    c = imap(srv, jm)
    c.select("INBOX")
    # a flag set by the other session: the message and its mailbox's counts
    c.store("1", "+FLAGS", "(\\Seen)")
    ch = changes(jm, "Email", est)
    assert (ch["created"], ch["updated"], ch["destroyed"]) == ([], [e1], [])
    assert ch["newState"] == state_of(jm, "Email")
    mch = changes(jm, "Mailbox", mst)
    assert mch["updated"] == [inbox["id"]] and mch["created"] == mch["destroyed"] == []
    assert "unreadEmails" in mch["updatedProperties"]
    now = jm.call("Mailbox/get", {"accountId": jm.account, "ids": [inbox["id"]]})["list"][0]
    assert now["unreadEmails"] == inbox["unreadEmails"] - 1
    # the same flag again changes nothing: no MODSEQ, no change in JMAP
    before = c.fetch("1", "(MODSEQ)")[1][0]
    c.store("1", "+FLAGS", "(\\Seen)")
    assert c.fetch("1", "(MODSEQ)")[1][0] == before
    ch2 = changes(jm, "Email", ch["newState"])
    assert ch2["updated"] == [] and ch2["newState"] == ch["newState"], ch2
    mch2 = changes(jm, "Mailbox", mch["newState"])
    assert mch2["updated"] == [] and mch2["newState"] == mch["newState"]
    # IMAP then JMAP on one message: one update, both changes kept
    c.store("2", "+FLAGS", "(\\Flagged)")
    jm.call("Email/set", {"accountId": jm.account, "update": {e2: {"keywords/$seen": True}}})
    flags = c.fetch("2", "(FLAGS)")[1][-1].decode()
    assert "\\Seen" in flags and "\\Flagged" in flags, flags
    ch3 = changes(jm, "Email", ch2["newState"])
    assert (ch3["created"], ch3["updated"], ch3["destroyed"]) == ([], [e2], [])
    assert get(jm, [e2], ["keywords"])[0]["keywords"] == {"$seen": True, "$flagged": True}
    # COPY into a new folder and EXPUNGE of the original, by the session
    c.create("Kept")
    c.copy("3", "Kept")
    c.store("3", "+FLAGS", "(\\Deleted)")
    c.expunge()
    c.logout()
    ch4 = changes(jm, "Email", ch3["newState"])
    assert ch4["destroyed"] == [e3] and ch4["updated"] == [] and len(ch4["created"]) == 1
    copy = get(jm, ch4["created"], ["subject", "mailboxIds"])[0]
    kept = changes(jm, "Mailbox", mch2["newState"])
    assert copy["subject"] == "cc3" and list(copy["mailboxIds"]) == kept["created"]
    assert kept["updated"] == [inbox["id"]]
    assert ch4["newState"] == state_of(jm, "Email") and kept["newState"] == state_of(jm, "Mailbox")
    again = changes(jm, "Email", ch4["newState"])
    assert again["created"] == again["updated"] == again["destroyed"] == []
