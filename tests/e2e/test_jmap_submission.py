"""JMAP submission (RFC 8621 6 and 7) end to end: Identity, and
EmailSubmission sending through queued as authenticated SMTP submission does
(the front checks the sender with authd and queues; the mail process never
reaches queue.sock). One instance for the module; fresh users per test."""
import email
import email.policy
import glob
import os
import pwd
import smtplib
import socket
import subprocess
import sys
import time

import pytest

import ternipc as ipc
from conftest import wait_for
from jmap_harness import Jmap, jmap_fixtures

SUB = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
       "urn:ietf:params:jmap:submission"]


# A short queue lifetime: a recipient that cannot be reached bounces within
# seconds (test_delivery_status_remote_bounce); the rest delivers at once.
srv, jm = jmap_fixtures(confs={"queued": {"maximal_queue_lifetime": "4s",
                                          "minimal_backoff_time": "1s"}})


def api(jm, calls):
    return jm.api(calls, using=SUB)["methodResponses"]


def one(jm, name, args):
    return jm.call(name, args, "0", using=SUB)


def boxes(jm):
    r = one(jm, "Mailbox/get", {"accountId": jm.account})
    return {m["role"] or m["name"]: m["id"] for m in r["list"]}


def identity(jm):
    return one(jm, "Identity/get", {"accountId": jm.account})["list"][0]["id"]


def draft(jm, frm, to, subject, extra=None):
    """Email/set create args of a draft in Drafts."""
    d = {"mailboxIds": {boxes(jm)["drafts"]: True}, "keywords": {"$draft": True, "$seen": True},
         "from": [{"email": frm}], "to": [{"email": a} for a in to], "subject": subject,
         "textBody": [{"partId": "t", "type": "text/plain"}],
         "bodyValues": {"t": {"value": "sent over JMAP\n"}}}
    d.update(extra or {})
    return {"accountId": jm.account, "create": {"d": d}}


def delivered(srv, user, subject, timeout=30):
    """The file of the message with subject in user's INBOX, or None."""
    def find():
        for f in glob.glob(os.path.join(srv.maildir(user), "new", "*")) + \
                glob.glob(os.path.join(srv.maildir(user), "cur", "*")):
            with open(f, "rb") as fh:
                if f"Subject: {subject}".encode() in fh.read():
                    return f
        return None
    wait_for(find, timeout)
    return find()


def test_session_and_identity(jm):
    s = jm.get_session()
    assert "urn:ietf:params:jmap:submission" in s["capabilities"]
    acct = s["accounts"][jm.account]["accountCapabilities"]["urn:ietf:params:jmap:submission"]
    assert acct == {"maxDelayedSend": 0, "submissionExtensions": {}}
    assert s["primaryAccounts"]["urn:ietf:params:jmap:submission"] == jm.account
    r = one(jm, "Identity/get", {"accountId": jm.account})
    assert len(r["list"]) == 1
    ident = r["list"][0]
    assert ident["email"] == jm.user and ident["mayDelete"] is False
    again = one(jm, "Identity/get", {"accountId": jm.account, "ids": [ident["id"], "Inope"]})
    assert again["list"] == [ident] and again["notFound"] == ["Inope"]
    ch = one(jm, "Identity/changes", {"accountId": jm.account, "sinceState": r["state"]})
    assert ch["created"] == [] and ch["newState"] == r["state"]
    s = one(jm, "Identity/set", {"accountId": jm.account, "destroy": [ident["id"]],
                                 "create": {"x": {"email": "someone@example.org"}}})
    assert s["notDestroyed"][ident["id"]]["type"] == "forbidden"
    assert s["notCreated"]["x"]["type"] == "forbiddenFrom"
    # without the capability in "using", the methods are unknown
    r = jm.api([["Identity/get", {"accountId": jm.account}, "0"]])
    assert r["methodResponses"][0][1]["type"] == "unknownMethod"


def test_alias_identities_send_as_the_alias(srv, jm):
    """Identity/get lists the aliases that deliver to the user (authd's one
    sender rule); mail sent with an alias identity leaves From the alias, and
    smtpd's authenticated submission agrees on the same addresses."""
    local = jm.user.split("@")[0]
    mine, team, other = (f"{local}-sales@example.test", f"{local}-team@example.test",
                         f"{local}-not@example.test")
    stranger, _ = srv.new_user()
    srv.ctl("alias", "add", mine, jm.user)
    srv.ctl("alias", "add", team, f"{mine},{stranger}")   # leads to the user through mine
    srv.ctl("alias", "add", other, stranger)
    r = one(jm, "Identity/get", {"accountId": jm.account})
    emails = [i["email"] for i in r["list"]]
    assert emails[0] == jm.user and sorted(emails[1:]) == sorted([mine, team]), emails
    ident = {i["email"]: i["id"] for i in r["list"]}
    assert len(set(ident.values())) == 3
    rcpt, rpw = srv.new_user()
    got = api(jm, [["Email/set", draft(jm, mine, [rcpt], "from my alias"), "0"],
                   ["EmailSubmission/set", {"accountId": jm.account, "create": {
                       "s": {"emailId": "#d", "identityId": ident[mine]}}}, "1"]])
    assert "s" in got[1][1]["created"], got
    f = delivered(srv, rcpt, "from my alias")
    assert f
    m = email.message_from_bytes(open(f, "rb").read(), policy=email.policy.compat32)
    assert m["From"] == mine
    sub = one(jm, "EmailSubmission/get", {"accountId": jm.account,
                                          "ids": [got[1][1]["created"]["s"]["id"]]})
    assert sub["list"][0]["envelope"]["mailFrom"]["email"] == mine
    # the login identity may not send From the alias, nor any From another's
    got = api(jm, [["Email/set", draft(jm, mine, [rcpt], "wrong identity"), "0"],
                   ["EmailSubmission/set", {"accountId": jm.account, "create": {
                       "s": {"emailId": "#d", "identityId": ident[jm.user]}}}, "1"]])
    assert got[1][1]["notCreated"]["s"]["type"] == "forbiddenFrom"
    got = api(jm, [["Email/set", draft(jm, other, [rcpt], "not mine"), "0"],
                   ["EmailSubmission/set", {"accountId": jm.account, "create": {
                       "s": {"emailId": "#d", "identityId": "I" + "0" * 16}}}, "1"]])
    assert got[1][1]["notCreated"]["s"]["type"] == "invalidProperties"
    # smtpd: the same addresses are the user's, the stranger's alias is not
    with smtplib.SMTP("127.0.0.1", srv.inst.port("submission"), timeout=30) as s:
        s.starttls()
        s.login(jm.user, jm.pw)
        for a in (mine, team):
            assert s.mail(a)[0] == 250, a
            s.rset()
        assert s.mail(other)[0] == 553
    # an alias removed is no identity any more
    srv.ctl("alias", "del", mine, jm.user)
    emails = [i["email"] for i in one(jm, "Identity/get", {"accountId": jm.account})["list"]]
    assert mine not in emails and team not in emails and jm.user in emails


def test_identity_update_is_stored(srv, jm):
    """name, signatures, replyTo and bcc persist in the user's Maildir and
    change the Identity state; other properties are refused."""
    r = one(jm, "Identity/get", {"accountId": jm.account})
    iid, old = r["list"][0]["id"], r["state"]
    patch = {"name": "Ann Example", "textSignature": "-- \nAnn", "htmlSignature": "<b>Ann</b>",
             "replyTo": [{"name": "Desk", "email": "desk@example.test"}],
             "bcc": [{"email": "archive@example.test"}]}
    s = one(jm, "Identity/set", {"accountId": jm.account, "ifInState": old,
                                 "update": {iid: patch}})
    assert s["updated"] == {iid: None} and s["oldState"] == old and s["newState"] != old, s
    ch = one(jm, "Identity/changes", {"accountId": jm.account, "sinceState": old})
    assert ch["updated"] == [iid] and ch["newState"] == s["newState"]
    again = Jmap(srv, jm.user, jm.pw)    # another client, the same stored identity
    try:
        g = again.api([["Identity/get", {"accountId": jm.account, "ids": [iid]}, "0"]],
                      using=SUB)["methodResponses"][0][1]
    finally:
        again.close()
    got = g["list"][0]
    assert {k: got[k] for k in patch} == patch and got["email"] == jm.user
    assert g["state"] == s["newState"]
    bad = one(jm, "Identity/set", {"accountId": jm.account, "update": {
        iid: {"name": 7}, "Inope": {"name": "x"}}})
    assert bad["notUpdated"][iid]["type"] == "invalidProperties"
    assert bad["notUpdated"]["Inope"]["type"] == "notFound"
    for p in ({"email": "else@example.test"}, {"mayDelete": True}, {"bcc": [{"name": "x"}]},
              {"textSignature": "x" * 20000}, {"color": "red"}):
        bad = one(jm, "Identity/set", {"accountId": jm.account, "update": {iid: p}})
        assert bad["notUpdated"][iid]["type"] == "invalidProperties", p
    # the same email may be given back unchanged
    ok = one(jm, "Identity/set", {"accountId": jm.account,
                                  "update": {iid: {"email": jm.user, "name": ""}}})
    assert ok["updated"] == {iid: None}


def test_send_to_local_user_moves_draft_to_sent(srv, jm):
    rcpt, rpw = srv.new_user()
    hidden, _ = srv.new_user()
    mb = boxes(jm)
    create = draft(jm, jm.user, [rcpt], "jmap hello", {"bcc": [{"email": hidden}]})
    r = api(jm, [
        ["Email/set", create, "0"],
        ["EmailSubmission/set", {
            "accountId": jm.account,
            "create": {"s": {"emailId": "#d", "identityId": identity(jm)}},
            "onSuccessUpdateEmail": {"#s": {f"mailboxIds/{mb['drafts']}": None,
                                            f"mailboxIds/{mb['sent']}": True,
                                            "keywords/$draft": None}}}, "1"]])
    assert [x[0] for x in r] == ["Email/set", "EmailSubmission/set", "Email/set"], r
    eid = r[0][1]["created"]["d"]["id"]
    sub = r[1][1]["created"]["s"]
    assert sub["undoStatus"] == "final" and sub["id"] and sub["sendAt"].endswith("Z")
    assert r[2][1]["updated"] == {eid: None}
    f = delivered(srv, rcpt, "jmap hello")
    assert f, srv.log_text()[-3000:]
    m = email.message_from_bytes(open(f, "rb").read(), policy=email.policy.compat32)
    assert m["From"] == jm.user and m["To"] == rcpt
    assert m["Bcc"] is None                      # RFC 8621 7.5: Bcc does not leave
    assert "with JMAP id" in m["Received"]
    assert delivered(srv, hidden, "jmap hello"), "the Bcc recipient got nothing"
    # the draft is now a sent message
    e = one(jm, "Email/get", {"accountId": jm.account, "ids": [eid],
                              "properties": ["mailboxIds", "keywords"]})["list"][0]
    assert e["mailboxIds"] == {mb["sent"]: True} and e["keywords"] == {"$seen": True}
    # the submission is kept: /get, /query, /changes
    g = one(jm, "EmailSubmission/get", {"accountId": jm.account, "ids": [sub["id"]]})
    got = g["list"][0]
    assert got["emailId"] == eid and got["undoStatus"] == "final"
    assert got["envelope"]["mailFrom"]["email"] == jm.user
    assert sorted(x["email"] for x in got["envelope"]["rcptTo"]) == sorted([rcpt, hidden])
    q = one(jm, "EmailSubmission/query", {"accountId": jm.account,
                                          "filter": {"emailIds": [eid]}})
    assert q["ids"] == [sub["id"]]
    assert one(jm, "EmailSubmission/query", {"accountId": jm.account,
                                             "filter": {"emailIds": ["Enope"]}})["ids"] == []
    c = one(jm, "EmailSubmission/changes", {"accountId": jm.account,
                                            "sinceState": r[1][1]["oldState"]})
    assert c["created"] == [sub["id"]]
    # sent is final
    u = one(jm, "EmailSubmission/set", {"accountId": jm.account,
                                        "update": {sub["id"]: {"undoStatus": "canceled"}}})
    assert u["notUpdated"][sub["id"]]["type"] == "cannotUnsend"
    # the queue log names the user who submitted
    assert f"http submit: user={jm.user}" in srv.log_text()


def test_explicit_envelope_and_destroy_on_success(srv, jm):
    rcpt, _ = srv.new_user()
    other, _ = srv.new_user()
    r = api(jm, [
        ["Email/set", draft(jm, jm.user, [other], "jmap envelope"), "0"],
        ["EmailSubmission/set", {
            "accountId": jm.account,
            "create": {"s": {"emailId": "#d", "identityId": identity(jm),
                             "envelope": {"mailFrom": {"email": jm.user},
                                          "rcptTo": [{"email": rcpt}]}}},
            "onSuccessDestroyEmail": ["#s"]}, "1"]])
    eid = r[0][1]["created"]["d"]["id"]
    assert "s" in r[1][1]["created"], r
    assert r[2][0] == "Email/set" and r[2][1]["destroyed"] == [eid]
    assert delivered(srv, rcpt, "jmap envelope")
    time.sleep(0.5)
    assert delivered(srv, other, "jmap envelope", timeout=0.1) is None


def test_refusals(srv, jm):
    victim, _ = srv.new_user()
    ident = identity(jm)

    def submit(create, extra=None):
        r = api(jm, [["Email/set", create, "0"],
                     ["EmailSubmission/set", {"accountId": jm.account, "create": {
                         "s": {"emailId": "#d", "identityId": ident, **(extra or {})}}}, "1"]])
        assert "d" in r[0][1]["created"], r
        return r[1][1]["notCreated"].get("s"), r[1][1]["created"].get("s")

    # a forged From
    err, ok = submit(draft(jm, victim, [victim], "forged from"))
    assert ok is None and err["type"] == "forbiddenFrom"
    # an envelope sender that is not the user's: refused by the front (authd)
    err, ok = submit(draft(jm, jm.user, [victim], "forged envelope"),
                     {"envelope": {"mailFrom": {"email": victim}, "rcptTo": [{"email": victim}]}})
    assert ok is None and err["type"] == "forbiddenMailFrom", err
    assert f"http submit: user={jm.user} sender=<{victim}>" in srv.log_text()
    # no recipients, bad recipients, unknown identity and email
    err, _ = submit(draft(jm, jm.user, [], "nobody"))
    assert err["type"] == "noRecipients"
    err, _ = submit(draft(jm, jm.user, [victim], "bad rcpt"),
                    {"envelope": {"mailFrom": {"email": jm.user},
                                  "rcptTo": [{"email": "no space@x"}]}})
    assert err["type"] == "invalidRecipients" and err["invalidRecipients"] == ["no space@x"]
    r = one(jm, "EmailSubmission/set", {"accountId": jm.account, "create": {
        "a": {"emailId": "Enope", "identityId": ident},
        "b": {"emailId": "Enope", "identityId": "Inope"},
        "c": {"emailId": "Enope", "identityId": ident, "undoStatus": "pending"}}})
    assert r["notCreated"]["a"]["properties"] == ["emailId"]
    assert r["notCreated"]["b"]["properties"] == ["identityId"]
    assert r["notCreated"]["c"]["type"] == "invalidProperties"
    time.sleep(0.5)
    assert delivered(srv, victim, "forged", timeout=0.1) is None


def submit_one(jm, to, subject):
    """Send a new draft to the addresses to: the EmailSubmission's id."""
    r = api(jm, [["Email/set", draft(jm, jm.user, to, subject), "0"],
                 ["EmailSubmission/set", {"accountId": jm.account, "create": {
                     "s": {"emailId": "#d", "identityId": identity(jm)}}}, "1"]])
    assert "s" in r[1][1]["created"], r
    return r[1][1]["created"]["s"]["id"], r[1][1]["newState"]


def status_of(jm, sub_id, props=None):
    args = {"accountId": jm.account, "ids": [sub_id]}
    if props is not None:
        args["properties"] = props
    g = one(jm, "EmailSubmission/get", args)
    return g["list"][0], g["state"]


def ask_queued(srv, qid, user):
    """QUEUE_STATUS_REQ straight to queue.sock (the test runs as root, a peer
    queued trusts as it trusts httpd's front): (status, recipients)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(os.path.join(srv.dir, "run", "queue.sock"))
    c = ipc.Conn(s)
    c.send(ipc.Msg(ipc.QUEUE_STATUS_REQ, 7).str(qid).str(user))
    m = c.recv()
    s.close()
    assert m.type == ipc.QUEUE_STATUS_RES and m.id == 7
    st, n = m.u32(), m.u32()
    return st, [(m.str(), m.u32(), m.str(), m.str()) for _ in range(n)]


def test_delivery_status_local(srv, jm):
    """RFC 8621 7 deliveryStatus of a local recipient: delivered "yes" with
    the 250 of the local delivery, kept once final; only the submitter sees it."""
    rcpt, rpw = srv.new_user()
    sid, set_state = submit_one(jm, [rcpt], "jmap status local")
    assert delivered(srv, rcpt, "jmap status local")

    def final():
        got, _ = status_of(jm, sid)
        ds = got["deliveryStatus"]
        return ds if ds and ds[rcpt]["delivered"] != "queued" else None
    assert wait_for(final, 20, 0.2), status_of(jm, sid)
    got, state = status_of(jm, sid)
    assert got["undoStatus"] == "final"
    ds = got["deliveryStatus"]
    assert list(ds) == [rcpt]
    assert ds[rcpt]["delivered"] == "yes" and ds[rcpt]["displayed"] == "unknown"
    assert ds[rcpt]["smtpReply"].startswith("250 2.0.0 "), ds
    # the new status is a change of the submission: /changes says so, once
    assert state != set_state
    ch = one(jm, "EmailSubmission/changes", {"accountId": jm.account, "sinceState": set_state})
    assert ch["updated"] == [sid] and ch["newState"] == state
    assert status_of(jm, sid)[1] == state
    # without deliveryStatus in properties nothing is asked of queued
    got, _ = status_of(jm, sid, ["id", "undoStatus"])
    assert got == {"id": sid, "undoStatus": "final"}
    # another user: not in their account, and queued refuses them too
    other = Jmap(srv, rcpt, rpw)
    g = one(other, "EmailSubmission/get", {"accountId": other.account, "ids": [sid]})
    assert g["list"] == [] and g["notFound"] == [sid]
    other.close()
    qid = sid[1:]
    assert ask_queued(srv, qid, rcpt) == (ipc.QS_NOTFOUND, [])
    assert ask_queued(srv, qid, "nobody@example.test") == (ipc.QS_NOTFOUND, [])
    st, rcpts = ask_queued(srv, qid, jm.user)
    assert st == ipc.QS_OK and [(a, d) for a, d, _, _ in rcpts] == [(rcpt, ipc.QD_YES)]
    assert f"{qid}: delivery status refused" in srv.log_text()
    # an ordinary local user (no suite account) is not answered at all
    nobody = pwd.getpwnam("nobody")
    probe = ("import socket, struct, sys\n"
             "s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])\n"
             "body = b''.join(struct.pack('>BI', 3, len(v)) + v.encode() for v in sys.argv[2:4])\n"
             "s.sendall(struct.pack('>IHBBI', len(body), 213, 1, 0, 7) + body)\n"
             "print(len(s.recv(65536)))\n")
    r = subprocess.run([sys.executable, "-c", probe, os.path.join(srv.dir, "run", "queue.sock"),
                        qid, jm.user], user=nobody.pw_uid,
                       group=nobody.pw_gid, capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "0", (r.stdout, r.stderr)


def test_delivery_status_remote_bounce(srv, jm):
    """A remote recipient that cannot be reached: queued, then no once the
    (short) queue lifetime has passed and it bounced; the local one yes."""
    local, _ = srv.new_user()
    far = "someone@unreachable.test"
    sid, _ = submit_one(jm, [local, far], "jmap status remote")
    got, _ = status_of(jm, sid)
    assert got["deliveryStatus"][far]["delivered"] == "queued", got

    def bounced():
        ds = status_of(jm, sid)[0]["deliveryStatus"]
        return ds if ds[far]["delivered"] == "no" else None
    assert wait_for(bounced, 30, 0.3), (status_of(jm, sid), srv.log_text()[-3000:])
    ds = status_of(jm, sid)[0]["deliveryStatus"]
    assert ds[local]["delivered"] == "yes"
    assert ds[far]["smtpReply"][:1] in "45" and ds[far]["smtpReply"][3:4] == " ", ds


def test_remote_recipient_gets_it_dkim_signed(srv, jm):
    """Last in the module: restarts the instance with a DKIM key, a DNS server
    naming an MX on 127.0.0.2 and smtp-sink there."""
    import dkim
    from test_remote import DNSMASQ, SINK, Dns, Sink, txt_arg
    if not (os.path.exists(SINK) and os.path.exists(DNSMASQ)):
        pytest.skip("needs postfix (smtp-sink) and dnsmasq: run tools/deps.sh")
    base = srv.inst.port_base
    srv.inst.stop()
    out = srv.ctl("dkim", "keygen", "example.test", "--selector", "j1").stdout
    txt = "".join(out.split('"')[1::2])
    srv.inst.set_conf("tern", "dns_server", f"127.0.0.1:{base + 53}")
    srv.inst.set_conf("deliverd", "smtp_port", str(base + 700))
    srv.inst.set_conf("deliverd", "smtp_tls", "may")
    dns = Dns(base + 53, ["--mx-host=remote.test,mx.remote.test,10",
                          "--address=/mx.remote.test/127.0.0.2",
                          txt_arg("j1._domainkey.example.test", txt)])
    sink = Sink("127.0.0.2", base + 700, os.path.join(srv.parent, "sink"))
    try:
        srv.inst.start()    # may move to another port base: a new client
        jm = Jmap(srv, jm.user, jm.pw)
        r = api(jm, [["Email/set", draft(jm, jm.user, ["bob@remote.test"], "jmap remote"), "0"],
                     ["EmailSubmission/set", {"accountId": jm.account, "create": {
                         "s": {"emailId": "#d", "identityId": identity(jm)}}}, "1"]])
        assert "s" in r[1][1]["created"], r
        assert wait_for(lambda: len(sink.messages()) == 1, 30), srv.log_text()[-3000:]
        raw = sink.message()
        body = raw[raw.index(b"DKIM-Signature"):]
        assert b"Subject: jmap remote" in body and b"with JMAP id" in body
        records = {b"j1._domainkey.example.test.": txt.encode()}
        assert dkim.verify(body, dnsfunc=lambda n, timeout=5: records.get(n)), body[:800]
    finally:
        sink.stop()
        dns.stop()
