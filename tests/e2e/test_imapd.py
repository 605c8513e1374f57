"""tern-imapd end to end: Python's imaplib, mbsync and raw sockets against a
real instance (`mailctl init`, `mailctl start`: tern-authd, both imapd roles,
smtpd, queued, deliverd). Each test has a user of its own, made with `mailctl
user add`; its mail arrives over SMTP (into new/, \\Recent) or by APPEND.
One instance serves the module (see imap_harness.py)."""
import base64
import imaplib
import os
import re
import socket
import time

import pytest

from conftest import wait_for
from imap_harness import ImapInstance, Mailbox, RawImap, idle_wait, chown_vmail, tls_ctx as cert_ctx

SIMPLE = (b"From: Sender One <one@example.org>\r\n"
          b"To: Alice <alice@example.test>, bob@example.test\r\n"
          b"Subject: hello there\r\n"
          b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
          b"Message-ID: <m1@example.org>\r\n"
          b"\r\n"
          b"line one\r\nline two\r\n")

NESTED = (b"From: a@example.org\r\n"
          b"To: b@example.test\r\n"
          b"Subject: nested\r\n"
          b"MIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
          b"\r\n"
          b"preamble\r\n"
          b"--outer\r\n"
          b"Content-Type: multipart/alternative; boundary=inner\r\n"
          b"\r\n"
          b"--inner\r\n"
          b"Content-Type: text/plain; charset=us-ascii\r\n"
          b"\r\n"
          b"plain body\r\n"
          b"--inner\r\n"
          b"Content-Type: text/html; charset=utf-8\r\n"
          b"Content-Transfer-Encoding: quoted-printable\r\n"
          b"\r\n"
          b"<p>html body</p>\r\n"
          b"--inner--\r\n"
          b"--outer\r\n"
          b"Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
          b"Content-Disposition: attachment; filename=\"a.bin\"\r\n"
          b"Content-Transfer-Encoding: base64\r\n"
          b"\r\n"
          b"AAECAwQ=\r\n"
          b"--outer--\r\n")


@pytest.fixture(scope="module")
def imap_instance():
    inst = ImapInstance()
    yield inst
    inst.close()


@pytest.fixture
def server(imap_instance):
    """A fresh user on the module's instance."""
    return Mailbox(imap_instance)


def tls_ctx(srv):
    return cert_ctx(srv.cert())


def connect(srv, login=True, user=None, pw=None):
    c = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=20)
    c.starttls(ssl_context=tls_ctx(srv))
    if login:
        typ, _ = c.login(user or srv.user, pw or srv.pw)
        assert typ == "OK"
    return c


def login_cmd(tag, srv):
    return tag + b" LOGIN " + srv.user.encode() + b" " + srv.pw.encode() + b"\r\n"


def test_greeting_logindisabled_before_tls(server):
    c = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=20)
    caps = c.capabilities
    assert "STARTTLS" in caps and "LOGINDISABLED" in caps and "AUTH=PLAIN" not in caps
    typ, data = c._simple_command("LOGIN", server.user, server.pw)
    assert typ == "NO" and b"PRIVACYREQUIRED" in data[0]
    c.starttls(ssl_context=tls_ctx(server))
    typ, data = c.capability()
    caps = data[0].decode().split()
    assert "AUTH=PLAIN" in caps and "LOGINDISABLED" not in caps and "STARTTLS" not in caps
    assert c.login(server.user, server.pw)[0] == "OK"
    typ, data = c.capability()
    assert "UIDPLUS" in data[0].decode().split()
    c.logout()


def test_wrong_password_then_right(server):
    c = connect(server, login=False)
    with pytest.raises(imaplib.IMAP4.error) as e:
        c.login(server.user, "wrong")
    assert "AUTHENTICATIONFAILED" in str(e.value)
    assert c.login(server.user, server.pw)[0] == "OK"
    c.logout()


def test_imaps_and_authenticate_plain(server):
    c = imaplib.IMAP4_SSL("127.0.0.1", server.imaps_port, ssl_context=tls_ctx(server), timeout=20)
    typ, _ = c.authenticate("PLAIN", lambda _: f"\0{server.user}\0{server.pw}".encode())
    assert typ == "OK"
    typ, data = c.select("INBOX")
    assert typ == "OK"
    c.logout()


def test_authenticate_login(server):
    """SASL LOGIN (AUTH=LOGIN, as Dovecot offers it): user name and password
    after the "Username:" and "Password:" prompts, or the user name as the
    initial response; "*" cancels with BAD, a wrong password is a NO."""
    b64 = lambda s: base64.b64encode(s.encode())
    r = RawImap(server, login=False)
    assert b"AUTH=LOGIN" in r.greeting and b"AUTH=PLAIN" in r.greeting
    r.send(b"a1 AUTHENTICATE LOGIN\r\n")
    assert r.line() == b"+ VXNlcm5hbWU6"
    r.send(b"*\r\n")
    assert r.line().startswith(b"a1 BAD")
    r.send(b"a2 AUTHENTICATE LOGIN " + b64(server.user) + b"\r\n")
    assert r.line() == b"+ UGFzc3dvcmQ6"
    r.send(b64("wrong") + b"\r\n")
    assert b"a2 NO [AUTHENTICATIONFAILED]" in r.line()
    r.send(b"a3 AUTHENTICATE LOGIN\r\n")
    assert r.line() == b"+ VXNlcm5hbWU6"
    r.send(b"not base64!\r\n")
    assert r.line().startswith(b"a3 BAD")
    r.send(b"a4 AUTHENTICATE LOGIN\r\n")
    assert r.line() == b"+ VXNlcm5hbWU6"
    r.send(b64(server.user) + b"\r\n")
    assert r.line() == b"+ UGFzc3dvcmQ6"
    r.send(b64(server.pw) + b"\r\n")
    assert r.line().startswith(b"a4 OK")
    assert r.ok(b"SELECT INBOX")
    r.close()


def test_plaintext_login_hands_off_raw_socket():
    inst = ImapInstance({"plaintext_auth_networks": "127.0.0.0/8, ::1"})
    try:
        srv = Mailbox(inst)
        srv.append(SIMPLE)
        c = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=20)
        assert c.login(srv.user, srv.pw)[0] == "OK"
        typ, data = c.select("INBOX")
        assert data == [b"1"]
        typ, data = c.fetch("1", "(BODY.PEEK[])")
        assert data[0][1] == SIMPLE
        c.logout()
    finally:
        inst.close()


def test_select_counts_and_codes(server):
    for i in range(3):
        server.deliver(SIMPLE.replace(b"hello there", b"msg %d" % i))
    c = connect(server)
    typ, data = c.select("INBOX")
    assert typ == "OK" and data == [b"3"]
    assert c.untagged_responses.get("RECENT") == [b"3"]
    uidvalidity = int(c.untagged_responses["UIDVALIDITY"][0])
    assert uidvalidity > 0
    assert c.untagged_responses["UIDNEXT"] == [b"4"]
    assert c.untagged_responses["UNSEEN"] == [b"1"]
    assert b"\\*" in c.untagged_responses["PERMANENTFLAGS"][0]
    assert "READ-WRITE" in c.untagged_responses
    # EXAMINE: read-only, no permanent flags
    typ, data = c.select("INBOX", readonly=True)
    assert typ == "OK"
    assert "READ-ONLY" in c.untagged_responses
    # a second session does not see them as recent any more
    c2 = connect(server)
    c2.select("INBOX")
    assert c2.untagged_responses.get("RECENT") == [b"0"]
    typ, data = c2.select("Nope")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    c.logout()
    c2.logout()


def test_fetch_basics(server):
    server.deliver(SIMPLE)
    c = connect(server)
    c.select("INBOX")
    # as stored: the trace headers of the SMTP delivery, then the message
    typ, data = c.fetch("1", "(BODY.PEEK[])")
    stored = data[0][1]
    assert stored.endswith(SIMPLE) and stored.startswith(b"Return-Path: <")
    typ, data = c.fetch("1", "(UID FLAGS RFC822.SIZE INTERNALDATE)")
    line = data[0].decode()
    assert "UID 1" in line and f"RFC822.SIZE {len(stored)}" in line
    assert "FLAGS (\\Recent)" in line
    assert re.search(r'INTERNALDATE "\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"', line)
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1] == b"Subject: hello there\r\n\r\n"
    typ, data = c.fetch("1", "(BODY.PEEK[TEXT])")
    assert data[0][1] == b"line one\r\nline two\r\n"
    typ, data = c.fetch("1", "(BODY.PEEK[]<5.10>)")
    assert data[0][1] == stored[5:15]
    assert b"BODY[]<5>" in data[0][0]
    # not PEEK: sets \Seen
    typ, data = c.fetch("1", "(BODY[TEXT])")
    typ, data = c.fetch("1", "(FLAGS)")
    assert b"\\Seen" in data[0]
    typ, data = c.fetch("1", "(ENVELOPE)")
    env = data[0].decode()
    assert '"hello there"' in env
    assert '(("Sender One" NIL "one" "example.org"))' in env
    assert '<m1@example.org>' in env
    c.logout()


def test_append_then_fetch_byte_exact(server):
    c = connect(server)
    typ, data = c.append("INBOX", "(\\Flagged $Work)", imaplib.Time2Internaldate(time.time()), NESTED)
    assert typ == "OK"
    m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
    assert m, data
    uid = m.group(2).decode()
    c.select("INBOX")
    typ, data = c.uid("FETCH", uid, "(BODY.PEEK[] FLAGS RFC822.SIZE)")
    assert data[0][1] == NESTED
    meta = data[0][0] + data[1]
    assert b"\\Flagged" in meta and b"$Work" in meta
    assert f"RFC822.SIZE {len(NESTED)}".encode() in meta
    # the file on disk follows Maildir rules: LF line ends, flags in the name
    # (keywords as Dovecot's letters: $Work is 'a')
    cur = os.path.join(server.maildir(), "cur")
    names = os.listdir(cur)
    assert len(names) == 1 and names[0].endswith(":2,Fa")
    with open(os.path.join(cur, names[0]), "rb") as f:
        assert b"\r\n" not in f.read()
    # APPEND to a missing folder: TRYCREATE
    typ, data = c.append("NoSuchFolder", None, None, SIMPLE)
    assert typ == "NO" and b"TRYCREATE" in data[0]
    c.logout()


def test_fetch_bodystructure_nested(server):
    server.deliver(NESTED)
    c = connect(server)
    c.select("INBOX")
    typ, data = c.fetch("1", "(BODYSTRUCTURE)")
    bs = data[0].decode()
    # "plain body" then the boundary's CRLF: no line break in the body, 0 lines
    expect = ('BODYSTRUCTURE ((("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 10 0 NIL NIL NIL NIL)'
              '("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 16 0 NIL NIL NIL NIL)'
              ' "alternative" ("boundary" "inner") NIL NIL NIL)'
              '("application" "octet-stream" ("name" "a.bin") NIL NIL "base64" 8 NIL'
              ' ("attachment" ("filename" "a.bin")) NIL NIL)'
              ' "mixed" ("boundary" "outer") NIL NIL NIL)')
    assert expect in bs, bs
    typ, data = c.fetch("1", "(BODY)")
    assert '"alternative")' in data[0].decode()
    typ, data = c.fetch("1", "(ENVELOPE)")
    assert data[0].decode() == ('1 (ENVELOPE (NIL "nested" ((NIL NIL "a" "example.org")) '
                                '((NIL NIL "a" "example.org")) ((NIL NIL "a" "example.org")) '
                                '((NIL NIL "b" "example.test")) NIL NIL NIL NIL))')
    typ, data = c.fetch("1", "(BODY.PEEK[1.2])")
    assert data[0][1] == b"<p>html body</p>"
    typ, data = c.fetch("1", "(BODY.PEEK[1.2.MIME])")
    assert data[0][1] == (b"Content-Type: text/html; charset=utf-8\r\n"
                          b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
    typ, data = c.fetch("1", "(BODY.PEEK[2]<0.4>)")
    assert data[0][1] == b"AAEC"
    c.logout()


def test_list_create_rename_delete_subscribe(server):
    c = connect(server)
    typ, data = c.list('""', "*")
    names = [d.decode() for d in data]
    assert any(n.endswith('"INBOX"') for n in names)
    assert any("\\Sent" in n and n.endswith('"Sent"') for n in names)
    assert c.create("Work")[0] == "OK"
    assert c.create("Work.Projects")[0] == "OK"
    typ, data = c.create("Work")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0]
    typ, data = c.list('""', "Work*")
    got = sorted(d.decode() for d in data)
    assert got == ['(\\HasChildren) "." "Work"', '(\\HasNoChildren) "." "Work.Projects"']
    typ, data = c.list('""', "%")
    assert not any("Projects" in d.decode() for d in data)
    assert c.rename("Work", "Job")[0] == "OK"
    typ, data = c.list('""', "Job*")
    assert len(data) == 2
    assert c.subscribe("Job")[0] == "OK"
    typ, data = c.lsub('""', "*")
    assert any(d.decode().endswith('"Job"') for d in data)
    assert c.unsubscribe("Job")[0] == "OK"
    typ, data = c.lsub('""', "Job*")
    assert data == [None]
    assert c.delete("Job.Projects")[0] == "OK"
    assert c.delete("Job")[0] == "OK"
    typ, data = c.delete("INBOX")
    assert typ == "NO"
    typ, data = c.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)")
    assert typ == "OK" and b"MESSAGES 0" in data[0] and b"UIDNEXT 1" in data[0]
    c.logout()


def test_store_expunge_seen_by_second_session(server):
    for i in range(3):
        server.deliver(SIMPLE)
    a, b = connect(server), connect(server)
    a.select("INBOX")
    b.select("INBOX")
    typ, data = a.store("2", "+FLAGS", "(\\Deleted)")
    assert b"\\Deleted" in data[0]
    typ, data = a.uid("STORE", "1", "+FLAGS.SILENT", "(\\Answered)")
    assert typ == "OK"
    typ, data = a.expunge()
    assert data == [b"2"]
    # the second session learns of the expunge and the flag change
    typ, data = b.noop()
    assert b.untagged_responses.get("EXPUNGE") == [b"2"]
    assert b"\\Answered" in b.untagged_responses.pop("FETCH")[0]
    typ, data = b.fetch("1:*", "(UID FLAGS)")
    assert len(data) == 2 and b"\\Answered" in data[0]
    a.logout()
    b.logout()


def test_uids_stable_across_restart_and_index_rebuild(server):
    for i in range(3):
        server.deliver(SIMPLE.replace(b"hello there", b"n%d" % i))
    c = connect(server)
    c.select("INBOX")
    uv = c.untagged_responses["UIDVALIDITY"][0]
    typ, before = c.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.logout()
    server.restart()
    c = connect(server)
    c.select("INBOX")
    assert c.untagged_responses["UIDVALIDITY"][0] == uv
    typ, after = c.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert after == before
    c.logout()
    # index deleted: rebuilt with the same messages (a new UIDVALIDITY)
    os.unlink(os.path.join(server.maildir(), "tern-index.db"))
    c = connect(server)
    typ, data = c.select("INBOX")
    assert data == [b"3"]
    typ, rebuilt = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert [x[1] for x in rebuilt if isinstance(x, tuple)] == \
        [x[1] for x in before if isinstance(x, tuple)]
    c.logout()


def test_copy_and_move_with_copyuid(server):
    for i in range(2):
        server.deliver(SIMPLE)
    c = connect(server)
    c.select("INBOX")
    typ, data = c.copy("1:2", "Archive")
    assert typ == "OK" and re.search(rb"COPYUID \d+ 1:2 1:2", data[0]), data
    typ, data = c.copy("1", "Missing")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    typ, data = c._simple_command("MOVE", "1", "Trash")
    assert typ == "OK"
    typ, data = c.select("INBOX")
    assert data == [b"1"]
    typ, data = c.status("Trash", "(MESSAGES)")
    assert b"MESSAGES 1" in data[0]
    typ, data = c.status("Archive", "(MESSAGES)")
    assert b"MESSAGES 2" in data[0]
    c.logout()


# ---- raw-socket tests: literals and malformed input ----

class Raw(RawImap):
    def __init__(self, srv):
        super().__init__(srv, login=False)


def test_raw_literals_and_malformed(server):
    r = Raw(server)
    # login with literals
    r.send(b"a1 LOGIN {%d}\r\n" % len(server.user))
    assert r.line().startswith(b"+ ")
    r.send(server.user.encode() + b" {%d+}\r\n" % len(server.pw) + server.pw.encode() + b"\r\n")
    assert r.until_tag(b"a1")[-1].startswith(b"a1 OK")
    # a huge APPEND literal is refused before it is sent
    r.send(b"a2 APPEND INBOX {999999999999}\r\n")
    assert r.line().startswith(b"a2 NO [TOOBIG]")
    # malformed commands
    r.send(b"a3 FETCH\r\n")
    assert r.line().startswith(b"a3 BAD")
    r.send(b"a4 SELECT INBOX\r\n")
    assert r.until_tag(b"a4")[-1].startswith(b"a4 OK")
    r.send(b"a5 FETCH 1:* (FLAGS\r\n")
    assert r.line().startswith(b"a5 BAD")
    r.send(b"a6 FETCH 1 ((((((((((((((((((((((((((((((((((((((((FLAGS))))))))))))))))))))))))))))))))))))))))\r\n")
    assert r.line().startswith(b"a6 BAD")
    r.send(b"\r\n")
    assert b"BAD" in r.line()
    r.send(b"a7 NOSUCHCOMMAND x\r\n")
    assert r.line().startswith(b"a7 BAD")
    r.send(b"a8 " + b"X" * 20000 + b"\r\n")
    assert r.line().startswith(b"a8 BAD")
    r.send(b"a9 NOOP\r\n")
    assert r.until_tag(b"a9")[-1].startswith(b"a9 OK")
    r.send(b"a10 LOGOUT\r\n")
    assert r.until_tag(b"a10")[-1].startswith(b"a10 OK")


def test_search_every_key_class(server):
    msgs = [
        b"From: Ann <ann@example.org>\r\nTo: alice@example.test\r\nCc: carl@example.org\r\n"
        b"Subject: =?iso-8859-1?q?caf=E9?= order\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        b"X-Tag: blue\r\n\r\nplease bring coffee\r\n",
        b"From: Bob <bob@example.org>\r\nTo: alice@example.test\r\nBcc: hidden@example.org\r\n"
        b"Subject: report\r\nDate: Tue, 10 Mar 2026 10:00:00 +0000\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"cXVhcnRlcmx5IG51bWJlcnM=\r\n",
        NESTED,
    ]
    for m in msgs:
        server.deliver(m)
    c = connect(server)
    c.select("INBOX")
    c.store("2", "+FLAGS", "(\\Seen \\Flagged $Important)")

    def search(*crit, uid=False):
        if uid:
            typ, data = c.uid("SEARCH", *crit)
        else:
            typ, data = c.search(None, *crit)
        assert typ == "OK", (crit, data)
        return data[0].decode().split()

    assert search("ALL") == ["1", "2", "3"]
    assert search("SEEN") == ["2"] and search("UNSEEN") == ["1", "3"]
    assert search("FLAGGED") == ["2"] and search("UNFLAGGED") == ["1", "3"]
    assert search("ANSWERED") == [] and search("UNANSWERED") == ["1", "2", "3"]
    assert search("DELETED") == [] and search("UNDELETED") == ["1", "2", "3"]
    assert search("DRAFT") == [] and search("UNDRAFT") == ["1", "2", "3"]
    assert search("KEYWORD", "$Important") == ["2"] and search("UNKEYWORD", "$Important") == ["1", "3"]
    assert search("RECENT") == ["1", "2", "3"] and search("NEW") == ["1", "3"] and search("OLD") == []
    assert search("FROM", "ann") == ["1"]
    assert search("TO", "alice") == ["1", "2"]
    assert search("CC", "carl") == ["1"] and search("BCC", "hidden") == ["2"]
    assert search("SUBJECT", "REPORT") == ["2"]
    assert search("HEADER", "X-Tag", "blu") == ["1"]
    assert search("BODY", "coffee") == ["1"]
    assert search("BODY", "quarterly") == ["2"]  # base64 decoded
    assert search("BODY", "\"html body\"") == ["3"]
    assert search("TEXT", "ann@example") == ["1"]
    assert search("SENTBEFORE", "5-Mar-2026") == ["1"]
    assert search("SENTON", "10-Mar-2026") == ["2"]
    assert search("SENTSINCE", "3-Mar-2026") == ["2"]
    today = time.strftime("%d-%b-%Y", time.gmtime())
    assert search("ON", today) == ["1", "2", "3"]
    assert search("BEFORE", "1-Jan-2000") == [] and search("SINCE", "1-Jan-2000") == ["1", "2", "3"]
    # 300 octets as the messages were sent, plus the trace headers of delivery
    typ, data = c.fetch("1:3", "(RFC822.SIZE)")
    sizes = [int(re.search(rb"RFC822.SIZE (\d+)", d).group(1)) for d in data]
    limit = str(300 + max(sz - len(m) for sz, m in zip(sizes, msgs)))
    assert search("LARGER", limit) == ["3"] and search("SMALLER", limit) == ["1", "2"]
    assert search("UID", "2:*") == ["2", "3"]
    assert search("2:3") == ["2", "3"] and search("*") == ["3"]
    assert search("NOT", "SEEN") == ["1", "3"]
    assert search("OR", "FROM", "bob", "BODY", "coffee") == ["1", "2"]
    assert search("(FROM ann BODY coffee)") == ["1"]
    assert search("UNSEEN", "TO", "alice") == ["1"]
    assert search("FLAGGED", uid=True) == ["2"]
    # RFC 2047 decoded subject, searched in UTF-8 with a literal
    c.literal = "café".encode()
    typ, data = c.search("UTF-8", "SUBJECT")
    assert typ == "OK" and data[0].split() == [b"1"]
    c.literal = "caf\xe9".encode("latin-1")
    typ, data = c.search("ISO-8859-1", "SUBJECT")
    assert typ == "OK" and data[0].split() == [b"1"]
    # ESEARCH
    typ, data = c._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "ALL")
    assert typ == "OK"
    es = c.untagged_responses.pop("ESEARCH")[0]
    # RFC 4731 fixes no order among the results: compare them as pairs
    words = es.split(b")", 1)[1].split()
    assert dict(zip(words[0::2], words[1::2])) == {b"MIN": b"1", b"MAX": b"3", b"COUNT": b"3",
                                                   b"ALL": b"1:3"}, es
    typ, data = c.search("X-UNKNOWN-CHARSET", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        c.search(None, "NOSUCHKEY")
    with pytest.raises(imaplib.IMAP4.error):
        c.search(None, "(" * 40 + "ALL" + ")" * 40)
    c.logout()


def test_idle_sees_delivery_flags_and_expunge(server):
    server.deliver(SIMPLE)
    r = Raw(server)
    r.send(login_cmd(b"a1", server))
    r.until_tag(b"a1")
    r.send(b"a2 SELECT INBOX\r\n")
    r.until_tag(b"a2")
    r.send(b"a3 IDLE\r\n")
    assert r.line().startswith(b"+ ")
    # a new delivery (deliverd writes into new/)
    server.deliver(SIMPLE.replace(b"hello there", b"second"))
    idle_wait(r, lambda l: l == b"* 2 EXISTS")
    # another session changes flags and expunges
    other = connect(server)
    other.select("INBOX")
    other.store("1", "+FLAGS", "(\\Flagged)")
    idle_wait(r, lambda l: l.startswith(b"* 1 FETCH (FLAGS (") and b"\\Flagged" in l)
    other.store("2", "+FLAGS", "(\\Deleted)")
    other.expunge()
    idle_wait(r, lambda l: l == b"* 2 EXPUNGE")
    other.logout()
    r.send(b"DONE\r\n")
    assert r.until_tag(b"a3")[-1].startswith(b"a3 OK")
    r.send(b"a4 LOGOUT\r\n")
    r.until_tag(b"a4")


def test_mailctl_mailbox_index_drop_and_rebuild(server):
    import subprocess
    from conftest import MAILCTL
    for i in range(3):
        server.deliver(SIMPLE.replace(b"hello there", b"n%d" % i))
    c = connect(server)
    c.create("Work")
    c.select("INBOX")
    uv = int(c.untagged_responses["UIDVALIDITY"][0])
    c.store("2", "+FLAGS", "(\\Seen)")
    c.logout()
    p = subprocess.run([MAILCTL, "-c", server.dir, "mailbox", "index", server.user, "rebuild"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "INBOX: 3 messages" in p.stdout and "Work: 0 messages" in p.stdout
    p = subprocess.run([MAILCTL, "-c", server.dir, "mailbox", "index", server.user, "drop"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "dropped" in p.stdout
    c = connect(server)
    typ, data = c.select("INBOX")
    assert data == [b"3"]
    assert int(c.untagged_responses["UIDVALIDITY"][0]) > uv
    typ, data = c.fetch("2", "(FLAGS)")
    assert b"\\Seen" in data[0]   # flags survive: they live in the file names
    c.logout()
    p = subprocess.run([MAILCTL, "-c", server.dir, "mailbox", "index", "nobody@example.test", "drop"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and p.stderr.count("\n") == 1


def run_mbsync(server, home, local):
    import subprocess
    rc = os.path.join(home, "mbsyncrc")
    with open(rc, "w") as f:
        f.write(f"""IMAPAccount tern
Host localhost
Port {server.imap_port}
User {server.user}
Pass {server.pw}
SSLType STARTTLS
CertificateFile {server.cert()}
SystemCertificates no

IMAPStore remote
Account tern

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
""")
    p = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, HOME=home))
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def local_files(path):
    return sorted(os.listdir(os.path.join(path, "cur")) + os.listdir(os.path.join(path, "new")))


def test_mbsync_two_way(server, tmp_path):
    server.deliver(SIMPLE)
    server.deliver(NESTED)
    home, local = str(tmp_path), str(tmp_path / "Mail")
    os.makedirs(local)
    run_mbsync(server, home, local)
    inbox = os.path.join(local, "INBOX")
    files = local_files(inbox)
    assert len(files) == 2
    assert os.path.isdir(os.path.join(local, "Sent"))
    # locally: mark one seen, delete the other, add a new message to Archive
    cur = os.path.join(inbox, "cur")
    names = sorted(os.listdir(cur)) + [os.path.join("..", "new", n) for n in os.listdir(os.path.join(inbox, "new"))]
    contents = {}
    for n in names:
        with open(os.path.join(cur, n), "rb") as f:
            contents[n] = f.read()
    simple_name = next(n for n in names if b"hello there" in contents[n])
    nested_name = next(n for n in names if b"nested" in contents[n])
    base = os.path.basename(simple_name).split(":2,")[0]
    os.rename(os.path.join(cur, simple_name), os.path.join(cur, base + ":2,S"))
    os.unlink(os.path.join(cur, nested_name))
    arch = os.path.join(local, "Archive")
    with open(os.path.join(arch, "new", "1.local.msg"), "wb") as f:
        f.write(SIMPLE.replace(b"hello there", b"from mbsync"))
    run_mbsync(server, home, local)
    c = connect(server)
    typ, data = c.select("INBOX")
    assert data == [b"1"]
    typ, data = c.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"\\Seen" in data[0][0] and b"hello there" in data[0][1]
    typ, data = c.select("Archive")
    assert data == [b"1"]
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"from mbsync" in data[0][1]
    # server side: flag it; mbsync brings the flag down
    c.select("INBOX")
    c.store("1", "+FLAGS", "(\\Flagged)")
    c.logout()
    run_mbsync(server, home, local)
    names = os.listdir(cur)
    assert len(names) == 1 and names[0].endswith(":2,FS"), names


def test_list_extended_status_special_use_namespace(server):
    server.deliver(SIMPLE)
    c = connect(server)
    typ, data = c._simple_command("LIST", "(SPECIAL-USE)", '""', "*")
    got = c.untagged_responses.pop("LIST")
    assert sorted(g.decode() for g in got) == sorted([
        '(\\HasNoChildren \\Archive) "." "Archive"', '(\\HasNoChildren \\Drafts) "." "Drafts"',
        '(\\HasNoChildren \\Junk) "." "Junk"', '(\\HasNoChildren \\Sent) "." "Sent"',
        '(\\HasNoChildren \\Trash) "." "Trash"'])
    typ, data = c._simple_command("LIST", '""', "(INBOX Sent)", "RETURN", "(STATUS (MESSAGES UNSEEN) SUBSCRIBED)")
    assert typ == "OK"
    lists = [g.decode() for g in c.untagged_responses.pop("LIST")]
    assert any(l.endswith('"Sent"') and "\\Subscribed" in l for l in lists)
    status = [g.decode() for g in c.untagged_responses.pop("STATUS")]
    assert '"INBOX" (MESSAGES 1 UNSEEN 1)' in status and '"Sent" (MESSAGES 0 UNSEEN 0)' in status
    typ, data = c._simple_command("LIST", "(SUBSCRIBED)", '""', "*")
    subs = [g.decode() for g in c.untagged_responses.pop("LIST")]
    assert len(subs) == 5 and all("\\Subscribed" in l for l in subs)
    typ, data = c.namespace()
    assert data == [b'(("" ".")) NIL NIL']
    typ, data = c._simple_command("ENABLE", "CONDSTORE")
    assert typ == "OK"
    c.select("INBOX")
    typ, data = c._simple_command("UNSELECT")
    assert typ == "OK"
    with pytest.raises(imaplib.IMAP4.error):  # BAD: no mailbox selected any more
        c._simple_command("FETCH", "1", "FLAGS")
    c.logout()


def test_uid_expunge_and_close(server):
    for i in range(4):
        server.deliver(SIMPLE)
    c = connect(server)
    c.select("INBOX")
    c.store("1:3", "+FLAGS", "(\\Deleted)")
    typ, data = c.uid("EXPUNGE", "2:3")
    assert typ == "OK" and c.untagged_responses.pop("EXPUNGE") == [b"3", b"2"]
    typ, data = c.search(None, "ALL")
    assert data == [b"1 2"]
    c.close()  # expunges message 1 (still \\Deleted) silently
    typ, data = c.select("INBOX")
    assert data == [b"1"]
    typ, data = c.fetch("1", "(UID)")
    assert b"UID 4" in data[0]
    c.logout()


def test_raw_garbage_after_login_and_limits():
    inst = ImapInstance({"max_sessions_per_user": "2", "idle_timeout": "2s"})
    try:
        srv = Mailbox(inst)
        r = Raw(srv)
        r.send(login_cmd(b"a1", srv))
        assert r.until_tag(b"a1")[-1].startswith(b"a1 OK")
        r.send(b"\x00\xff\xfe garbage \x01\r\n")
        assert b"BAD" in r.line()
        r.send(b"a2 SELECT\r\n")
        assert r.line().startswith(b"a2 BAD")
        r.send(b'a3 SELECT "unterminated\r\n')
        assert r.line().startswith(b"a3 BAD")
        r.send(b"a4 UID FETCH 1:* (BODY[HEADER.FIELDS (FROM TO)]<0.10 FLAGS)\r\n")
        assert r.line().startswith(b"a4 BAD")
        r.send(b"a5 LOGIN again please\r\n")
        assert r.line().startswith(b"a5 BAD")
        r.send(b"a6 STORE 1 +FLAGS (\\Seen)\r\n")
        assert r.line().startswith(b"a6 BAD")  # nothing selected
        r.send(b"a7 APPEND INBOX {3+}\r\nabc\r\n")
        assert r.until_tag(b"a7")[-1].startswith(b"a7 OK [APPENDUID")
        # a third session for the same user is refused
        second = connect(srv)
        with pytest.raises((imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError, EOFError)):
            third = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=20)
            third.starttls(ssl_context=tls_ctx(srv))
            third.login(srv.user, srv.pw)
            third.select("INBOX")
        second.logout()
        # an idle session is closed after idle_timeout, with a BYE
        time.sleep(3)
        assert r.line().startswith(b"* BYE")
    finally:
        inst.close()


def test_condstore(server):
    for i in range(3):
        server.deliver(SIMPLE)
    c = connect(server)
    assert "CONDSTORE" in c.capability()[1][0].decode().split()
    typ, data = c._simple_command("SELECT", "INBOX", "(CONDSTORE)")
    assert typ == "OK"
    c.state = "SELECTED"
    hms = int(c.untagged_responses["HIGHESTMODSEQ"][0])
    typ, data = c.fetch("1:*", "(MODSEQ)")
    mods = [int(re.search(rb"MODSEQ \((\d+)\)", d).group(1)) for d in data]
    assert len(mods) == 3 and max(mods) <= hms
    typ, data = c.store("2", "+FLAGS", "(\\Flagged)")
    m2 = int(re.search(rb"MODSEQ \((\d+)\)", data[0]).group(1))
    assert m2 > hms
    # only message 2 changed since hms
    typ, data = c._simple_command("FETCH", "1:*", "(FLAGS)", "(CHANGEDSINCE %d)" % hms)
    fetched = c.untagged_responses.pop("FETCH")
    assert len(fetched) == 1 and fetched[0].startswith(b"2 (")
    # conditional store: message 2 was modified after hms
    typ, data = c._simple_command("STORE", "1:3", "(UNCHANGEDSINCE %d)" % hms, "+FLAGS", "(\\Seen)")
    assert typ == "OK" and b"[MODIFIED 2]" in data[0]
    c.untagged_responses.pop("FETCH", None)
    typ, data = c.search(None, "MODSEQ", str(m2))
    assert data[0].startswith(b"1 2 3 (MODSEQ ")
    typ, data = c.search(None, "MODSEQ", str(10**12))
    assert data == [b""]
    typ, data = c.status("INBOX", "(HIGHESTMODSEQ)")
    assert b"HIGHESTMODSEQ" in data[0]
    c.logout()


def test_sort_and_thread(server):
    msgs = [
        (b"Zed <zed@example.org>", b"alice@example.test", b"Re: lunch", b"Mon, 02 Mar 2026 12:00:00 +0000", 10),
        (b"Amy <amy@example.org>", b"bob@example.test", b"lunch", b"Mon, 02 Mar 2026 09:00:00 +0000", 300),
        (b"bert@example.org", b"carl@example.test", b"[list] Fwd: budget", b"Sun, 01 Mar 2026 08:00:00 -0500", 50),
        (b"Amy <amy@example.org>", b"alice@example.test", b"RE: [x] Lunch (fwd)", b"Tue, 03 Mar 2026 09:00:00 +0000", 20),
    ]
    for frm, to, subj, date, pad in msgs:
        server.deliver(b"From: " + frm + b"\r\nTo: " + to + b"\r\nSubject: " + subj +
                       b"\r\nDate: " + date + b"\r\n\r\n" + b"x" * pad + b"\r\n")
    c = connect(server)
    c.select("INBOX")

    def sort(*crit):
        typ, data = c.sort(*crit)
        assert typ == "OK"
        return data[0].decode().split()

    assert sort("(DATE)", "UTF-8", "ALL") == ["3", "2", "1", "4"]
    assert sort("(REVERSE DATE)", "UTF-8", "ALL") == ["4", "1", "2", "3"]
    assert sort("(SIZE)", "UTF-8", "ALL") == ["1", "4", "3", "2"]
    assert sort("(FROM)", "UTF-8", "ALL") == ["2", "4", "3", "1"]
    assert sort("(TO ARRIVAL)", "UTF-8", "ALL") == ["1", "4", "2", "3"]
    assert sort("(SUBJECT DATE)", "UTF-8", "ALL") == ["3", "2", "1", "4"]
    assert sort("(DISPLAYFROM)", "UTF-8", "ALL") == ["2", "4", "3", "1"]
    assert sort("(ARRIVAL)", "UTF-8", "FROM", "amy") == ["2", "4"]
    # ARRIVAL is the INTERNALDATE (deliveries within one second tie, and
    # ties stay in sequence order, REVERSE or not)
    typ, data = c.fetch("1:*", "(UID INTERNALDATE)")
    when = [(-time.mktime(imaplib.Internaldate2tuple(d)), int(re.search(rb"UID (\d+)", d).group(1)))
            for d in data]
    typ, data = c.uid("SORT", "(REVERSE ARRIVAL)", "UTF-8", "ALL")
    assert [int(x) for x in data[0].split()] == [u for _, u in sorted(when)]
    typ, data = c.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
    assert typ == "OK" and data == [b"(3)(2 (1)(4))"], data
    with pytest.raises(imaplib.IMAP4.error):
        c.sort("(NOSUCH)", "UTF-8", "ALL")
    c.logout()


def test_idle_told_of_real_delivery(server):
    """A real delivery (mailctl sendmail -> tern-queued -> tern-deliverd --local)
    shows up in an IDLE session; the login goes through the real tern-authd."""
    r = Raw(server)
    r.send(login_cmd(b"a1", server))
    assert r.until_tag(b"a1")[-1].startswith(b"a1 OK"), server.log_text()[-2000:]
    r.send(b"a2 SELECT INBOX\r\n")
    assert b"* 0 EXISTS" in r.until_tag(b"a2")
    r.send(b"a3 IDLE\r\n")
    assert r.line().startswith(b"+ ")
    server.ctl("sendmail", server.user, input="From: carol@example.org\nSubject: via the queue\n\nhello\n")
    idle_wait(r, lambda l: l == b"* 1 EXISTS", timeout=20)
    r.send(b"DONE\r\n")
    r.until_tag(b"a3")
    r.send(b"a4 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT DELIVERED-TO)])\r\n")
    got = b"\r\n".join(r.until_tag(b"a4"))
    assert b"Subject: via the queue" in got and b"a4 OK" in got
    r.send(b"a5 LOGOUT\r\n")
    r.until_tag(b"a5")


def test_quota(imap_instance):
    srv = Mailbox(imap_instance, quota=4096)
    srv.deliver(SIMPLE)
    c = connect(srv)
    assert "QUOTA" in c.capability()[1][0].decode().split()
    typ, data = c.getquotaroot("INBOX")
    assert typ == "OK"
    assert data[0] == [b'"INBOX" ""'] and data[1] == [b'"" (STORAGE 1 4)'], data
    typ, data = c.getquota('""')
    assert data == [b'"" (STORAGE 1 4)']
    typ, data = c.append("INBOX", None, None, SIMPLE)
    assert typ == "OK"
    typ, data = c.append("INBOX", None, None, SIMPLE * 30)
    assert typ == "NO" and b"OVERQUOTA" in data[0]
    typ, data = c.setquota('""', "(STORAGE 100000)")
    assert typ == "NO"
    c.logout()
    # a user without a quota has no quota root
    bob = Mailbox(imap_instance)
    c = connect(bob)
    typ, data = c.getquotaroot("INBOX")
    assert typ == "OK" and data[0] == [b'"INBOX"']
    c.logout()


def maildir_bytes(base):
    return sum(os.path.getsize(os.path.join(base, sub, n))
               for sub in ("new", "cur") for n in os.listdir(os.path.join(base, sub)))


def test_quota_delivery_and_imap_count_alike(imap_instance):
    """Delivery and IMAP QUOTA share one count: a message IMAP appended and
    one it expunged are what the next delivery counts (its maildirsize), and
    GETQUOTAROOT shows that same usage. Delivery used to keep counting from
    its own cache, blind to IMAP's changes for up to 15 minutes."""
    srv = Mailbox(imap_instance, quota=1000000)
    srv.deliver(SIMPLE)
    c = connect(srv)
    c.select("INBOX")
    assert c.append("INBOX", None, None, SIMPLE.replace(b"line one", b"x" * 20000))[0] == "OK"
    c.store("1", "+FLAGS", "(\\Deleted)")
    assert c.expunge()[0] == "OK"
    srv.deliver(SIMPLE)
    base = srv.maildir()
    with open(os.path.join(base, "maildirsize")) as f:
        counted = sum(int(line.split()[0]) for line in f.read().splitlines()[1:])
    used = maildir_bytes(base)
    assert 20000 < used < 30000
    assert counted == used
    typ, data = c.getquotaroot("INBOX")
    assert typ == "OK" and data[1] == [b'"" (STORAGE %d 976)' % ((used + 1023) // 1024)], data
    c.logout()

def test_compress_deflate(server):
    import zlib
    server.deliver(NESTED)
    r = Raw(server)
    r.send(login_cmd(b"a1", server))
    assert b"COMPRESS=DEFLATE" in r.until_tag(b"a1")[-1]
    r.send(b"a2 COMPRESS DEFLATE\r\n")
    assert r.line() == b"a2 OK DEFLATE active"
    comp = zlib.compressobj(wbits=-15)
    decomp = zlib.decompressobj(wbits=-15)
    buf = r.buf
    r.buf = b""

    def send(data):
        r.s.sendall(comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH))

    def until_tag(tag):
        nonlocal buf
        out = b""
        while not re.search(rb"(^|\r\n)" + tag + rb" [A-Z]+ .*\r\n", out):
            d = r.s.recv(65536)
            assert d, out
            out += decomp.decompress(d)
        return out

    send(b"a3 SELECT INBOX\r\n")
    assert b"* 1 EXISTS" in until_tag(b"a3")
    send(b"a4 FETCH 1 (BODY.PEEK[])\r\n")
    out = until_tag(b"a4")
    assert NESTED in out and b"a4 OK" in out
    send(b"a5 COMPRESS DEFLATE\r\n")
    assert b"a5 NO [COMPRESSIONACTIVE]" in until_tag(b"a5")
    send(b"a6 LOGOUT\r\n")
    assert b"a6 OK" in until_tag(b"a6")


def test_whole_instance_smtp_delivery_seen_in_idle(server):
    """mailctl init/start: a message sent over SMTP (smtpd -> queued ->
    deliverd) reaches an IMAP session in IDLE; imapd runs under the master."""
    import smtplib
    status = server.ctl("status").stdout
    assert re.search(r"^imapd \d+ \S+ running", status, re.M), status
    assert re.search(r"^imapd-mail \d+ \S+ running", status, re.M), status
    c = connect(server)
    typ, data = c.list('""', "*")
    assert any(b"\\Junk" in d for d in data)
    typ, data = c.select("INBOX")
    assert data == [b"0"]
    tag = c._new_tag()
    c.send(tag + b" IDLE\r\n")
    assert c.readline().startswith(b"+")
    with smtplib.SMTP("127.0.0.1", server.inst.inst.port("smtp"), timeout=20) as s:
        s.sendmail("carol@example.org", [server.user],
                   b"From: carol@example.org\r\nTo: alice@example.test\r\nSubject: over smtp\r\n\r\nhi\r\n")
    c.sock.settimeout(30)
    line = c.readline()
    while not line.startswith(b"* 1 EXISTS"):
        line = c.readline()
        assert line, "connection closed during IDLE"
    c.send(b"DONE\r\n")
    while not c.readline().startswith(tag):
        pass
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"Subject: over smtp" in data[0][1]
    c.logout()


def test_qresync(server):
    for i in range(4):
        server.deliver(SIMPLE)
    r = Raw(server)
    r.send(login_cmd(b"a1", server))
    r.until_tag(b"a1")
    r.send(b"a2 ENABLE QRESYNC\r\n")
    assert b"* ENABLED QRESYNC" in r.until_tag(b"a2")
    r.send(b"a3 SELECT INBOX\r\n")
    out = b"\r\n".join(r.until_tag(b"a3"))
    uv = int(re.search(rb"UIDVALIDITY (\d+)", out).group(1))
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", out).group(1))
    r.send(b"a4 LOGOUT\r\n")
    r.until_tag(b"a4")
    # meanwhile: another client expunges UID 2 and flags UID 3
    other = connect(server)
    other.select("INBOX")
    other.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
    other.expunge()
    other.uid("STORE", "3", "+FLAGS", "(\\Flagged)")
    # the resynchronising client learns exactly that
    r = Raw(server)
    r.send(login_cmd(b"b1", server))
    r.until_tag(b"b1")
    r.send(b"b2 ENABLE QRESYNC\r\n")
    r.until_tag(b"b2")
    r.send(b"b3 SELECT INBOX (QRESYNC (%d %d 1:4))\r\n" % (uv, hms))
    lines = r.until_tag(b"b3")
    assert b"* VANISHED (EARLIER) 2" in lines, lines
    fetches = [l for l in lines if b" FETCH " in l]
    assert len(fetches) == 1 and b"UID 3 " in fetches[0] and b"\\Flagged" in fetches[0]
    assert lines[-1].startswith(b"b3 OK")
    # live expunges arrive as VANISHED, not EXPUNGE
    other.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
    other.expunge()
    r.send(b"b4 NOOP\r\n")
    lines = r.until_tag(b"b4")
    assert b"* VANISHED 1" in lines and not any(b"EXPUNGE" in l for l in lines)
    r.send(b"b5 UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)\r\n" % hms)
    lines = r.until_tag(b"b5")
    assert b"* VANISHED (EARLIER) 1:2" in lines, lines
    assert lines[-1].startswith(b"b5 OK")
    r.send(b"b6 SELECT Sent\r\n")
    assert b"* OK [CLOSED] Previous mailbox closed" in r.until_tag(b"b6")
    other.logout()


def test_invalid_sequence_numbers(server):
    server.deliver(SIMPLE)
    c = connect(server)
    c.select("INBOX")
    for cmd in (("FETCH", "2", "(FLAGS)"), ("STORE", "1:3", "+FLAGS", "(\\Seen)"), ("COPY", "5", "Trash")):
        with pytest.raises(imaplib.IMAP4.error):
            c._simple_command(*cmd)
    typ, data = c.uid("FETCH", "5:9", "(FLAGS)")   # UID sets may name no message
    assert typ == "OK" and data == [None]
    typ, data = c.fetch("1:*", "(UID)")
    assert typ == "OK" and b"UID 1" in data[0]
    c.select("Trash")
    with pytest.raises(imaplib.IMAP4.error):
        c._simple_command("FETCH", "*", "(FLAGS)")
    c.logout()


def test_thread_references(server):
    spec = [  # (message-id, references, subject)
        ("<a@x>", None, "hello"),
        ("<b@x>", "<a@x>", "Re: hello"),
        ("<c@x>", "<a@x> <b@x>", "Re: hello"),
        ("<d@x>", None, "other"),
        ("<e@x>", "<a@x>", "Re: hello"),
        ("<f@x>", "<missing@x>", "lost"),
        ("<g@x>", "<missing@x>", "Re: lost"),
        ("<h@x>", None, "Re: other"),   # no references: joins "other" by subject
    ]
    for i, (mid, refs, subj) in enumerate(spec):
        hdr = f"From: a@example.org\r\nMessage-ID: {mid}\r\nSubject: {subj}\r\n" \
              f"Date: Mon, 02 Mar 2026 10:{i:02d}:00 +0000\r\n"
        if refs:
            hdr += f"References: {refs}\r\n"
        server.deliver((hdr + "\r\nbody\r\n").encode())
    c = connect(server)
    c.select("INBOX")
    assert "THREAD=REFERENCES" in c.capability()[1][0].decode()
    typ, data = c.thread("REFERENCES", "UTF-8", "ALL")
    assert typ == "OK"
    assert data == [b"(1 (2 3)(5))(4 8)((6)(7))"], data
    typ, data = c.uid("THREAD", "REFERENCES", "UTF-8", "NOT", "SUBJECT", "other")
    assert data == [b"(1 (2 3)(5))((6)(7))"], data
    c.logout()


def test_list_parent_made_by_another_tool(server):
    c = connect(server)
    # another Maildir tool creates ".Lists.tern" without ".Lists"
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(server.maildir(), ".Lists.tern", sub))
    from imap_harness import chown_vmail
    chown_vmail(os.path.join(server.dir, "mail"))
    typ, data = c.list('""', "%")
    lines = [d.decode() for d in data]
    assert '(\\Noselect \\HasChildren) "." "Lists"' in lines, lines
    assert not any(l.endswith('"Lists.tern"') for l in lines)
    typ, data = c.list('""', "Lists.%")
    assert [d.decode() for d in data] == ['(\\HasNoChildren) "." "Lists.tern"']
    typ, data = c.select("Lists")
    assert typ == "NO"
    c.logout()


def test_binary(server):
    server.deliver(NESTED)
    r = Raw(server)
    r.send(login_cmd(b"a1", server))
    assert b" BINARY " in r.until_tag(b"a1")[-1]
    r.send(b"a2 SELECT INBOX\r\n")
    r.until_tag(b"a2")
    # part 2 is base64 "AAECAwQ=" = bytes 0..4: NUL inside, so a literal8
    r.send(b"a3 FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1.2]<3.4>)\r\n")
    data = b""
    while b"a3 OK" not in data:
        d = r.s.recv(65536)
        assert d
        data += r.buf + d
        r.buf = b""
    assert b"BINARY[2] ~{5}\r\n\x00\x01\x02\x03\x04" in data
    assert b"BINARY.SIZE[2] 5" in data
    assert b"BINARY[1.2]<3> {4}\r\nhtml" in data
    # APPEND with a literal8
    r.buf = b""
    r.send(b"a4 APPEND INBOX ~{7}\r\n")
    assert r.line().startswith(b"+ ")
    r.send(b"x\x00y\r\n\r\n" + b"\r\n")
    assert r.until_tag(b"a4")[-1].startswith(b"a4 OK [APPENDUID")
    r.send(b"a5 FETCH 1 (BINARY[HEADER])\r\n")
    assert r.line().startswith(b"a5 BAD")


def test_rename_selected_folder(server):
    c = connect(server)
    c.create("Projects")
    c.append("Projects", None, None, SIMPLE)
    c.select("Projects")
    assert c.rename("Projects", "Done")[0] == "OK"
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and b"hello there" in data[0][1]
    c.append("Done", None, None, SIMPLE)
    typ, data = c.noop()
    assert c.untagged_responses.get("EXISTS")[-1] == b"2"
    c.logout()


def test_concurrent_sessions_and_deliveries_keep_the_folder_consistent(server):
    """Four sessions append, flag and expunge in one folder while deliveries
    arrive; afterwards every session, the index and the files agree."""
    import threading
    errors = []

    def worker(n):
        try:
            c = connect(server)
            c.select("INBOX")
            for i in range(15):
                assert c.append("INBOX", "(\\Seen)", None, SIMPLE.replace(b"hello there", b"w%d-%d" % (n, i)))[0] == "OK"
                typ, data = c.search(None, "ALL")
                seqs = data[0].split()
                if seqs:
                    c.store(seqs[len(seqs) // 2], "+FLAGS", "(\\Flagged)")
                if i % 5 == 4:
                    typ, data = c.uid("SEARCH", "FLAGGED")
                    uids = data[0].split()
                    if uids:
                        c.uid("STORE", uids[0], "+FLAGS", "(\\Deleted)")
                        c.expunge()
            c.logout()
        except Exception as e:  # reported by the main thread
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    server.deliver(*[SIMPLE.replace(b"hello there", b"delivered %d" % i) for i in range(20)])
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    c = connect(server)
    typ, data = c.select("INBOX")
    count = int(data[0])
    files = os.listdir(os.path.join(server.maildir(), "cur"))
    assert len(files) == count and os.listdir(os.path.join(server.maildir(), "new")) == []
    typ, data = c.fetch("1:*", "(UID FLAGS)")
    uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]
    assert uids == sorted(uids) and len(set(uids)) == count
    # flags in the index match the file names
    flagged = {int(x) for x in c.uid("SEARCH", "FLAGGED")[1][0].split()}
    assert len(flagged) == sum(1 for f in files if "F" in f.split(":2,")[1])
    # SEARCH agrees with the files (some deliveries were flagged and expunged)
    cur = os.path.join(server.maildir(), "cur")
    on_disk = 0
    for f in files:
        with open(os.path.join(cur, f), "rb") as fh:
            on_disk += b"Subject: delivered" in fh.read()
    typ, data = c.search(None, "SUBJECT", "delivered")
    assert len(data[0].split()) == on_disk
    c.logout()


def test_delete_selected_folder(server):
    a, b = connect(server), connect(server)
    a.create("Tmp")
    a.select("Tmp")
    b.select("Tmp")
    assert b.delete("Tmp")[0] == "OK"          # b deletes its own selected folder
    with pytest.raises(imaplib.IMAP4.error):  # and is no longer selected
        b._simple_command("FETCH", "1:*", "(FLAGS)")
    with pytest.raises(imaplib.IMAP4.abort):  # a is told and disconnected
        a.noop()
    b.logout()


# ---- LIST-EXTENDED RECURSIVEMATCH / CHILDINFO (RFC 5258, section 5 examples) ----

def raw_cmd(r, tag, text):
    """Send one command; the untagged LIST lines and the tagged reply."""
    r.send(tag + b" " + text + b"\r\n")
    lines = r.until_tag(tag)
    return sorted(l.decode() for l in lines[:-1]), lines[-1].decode()


def make_folders(server, create, subscribe, foreign=()):
    """CREATE and SUBSCRIBE over IMAP; `foreign` folders are made on disk by
    another Maildir tool, without their parents."""
    c = connect(server)
    for f in create:
        assert c.create(f)[0] == "OK", f
    for f in subscribe:
        assert c.subscribe(f)[0] == "OK", f
    c.logout()
    for f in foreign:
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(server.maildir(), "." + f, sub))
    chown_vmail(server.maildir())


def raw_login(server):
    r = Raw(server)
    r.send(login_cmd(b"a1", server))
    assert r.until_tag(b"a1")[-1].startswith(b"a1 OK")
    return r


def test_list_recursivematch_subscribed_fruit(server):
    """The hierarchy of RFC 5258 section 5 (examples 1-3 and 8): Fruit is
    not subscribed but Fruit.Banana is; Vegetable and Vegetable.Broccoli are;
    Fruit.Peach is subscribed and does not exist; Tofu has no subscriptions."""
    make_folders(server, ["Fruit.Apple", "Fruit.Banana", "Tofu.Firm", "Vegetable.Broccoli",
                          "Vegetable.Corn"],
                 ["Fruit.Banana", "Fruit.Peach", "Vegetable", "Vegetable.Broccoli"])
    r = raw_login(server)
    mine = lambda lines: [l for l in lines if any(k in l for k in ("Fruit", "Tofu", "Vegetable"))]
    # SUBSCRIBED alone: subscribed names only, a missing one as \NonExistent
    lines, ok = raw_cmd(r, b"a2", b'LIST (SUBSCRIBED) "" "*"')
    assert ok.startswith("a2 OK")
    assert mine(lines) == sorted([
        '* LIST (\\HasNoChildren \\Subscribed) "." "Fruit.Banana"',
        '* LIST (\\NonExistent \\Subscribed) "." "Fruit.Peach"',
        '* LIST (\\HasChildren \\Subscribed) "." "Vegetable"',
        '* LIST (\\HasNoChildren \\Subscribed) "." "Vegetable.Broccoli"']), lines
    # without RECURSIVEMATCH a parent with subscribed children is not listed
    lines, ok = raw_cmd(r, b"a3", b'LIST (SUBSCRIBED) "" "%"')
    assert mine(lines) == sorted(['* LIST (\\HasChildren \\Subscribed) "." "Vegetable"']), lines
    # with it, parents carry CHILDINFO, subscribed or not; Tofu stays out
    lines, ok = raw_cmd(r, b"a4", b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)')
    assert ok.startswith("a4 OK")
    assert mine(lines) == sorted([
        '* LIST (\\HasChildren) "." "Fruit" ("CHILDINFO" ("SUBSCRIBED"))',
        '* LIST (\\HasChildren \\Subscribed) "." "Vegetable" ("CHILDINFO" ("SUBSCRIBED"))']), lines
    # the special-use folders of a new user are subscribed, have no children
    assert '* LIST (\\HasNoChildren \\Subscribed \\Sent) "." "Sent"' in lines
    # "*": every subscribed name is listed itself; CHILDINFO still marks parents
    lines, ok = raw_cmd(r, b"a5", b'LIST (RECURSIVEMATCH SUBSCRIBED) "" "Vegetable*"')
    assert lines == sorted([
        '* LIST (\\HasChildren \\Subscribed) "." "Vegetable" ("CHILDINFO" ("SUBSCRIBED"))',
        '* LIST (\\HasNoChildren \\Subscribed) "." "Vegetable.Broccoli"']), lines
    # RECURSIVEMATCH alone, or with REMOTE only, is BAD (RFC 5258 3.1)
    assert raw_cmd(r, b"a6", b'LIST (RECURSIVEMATCH) "" "*"')[1].startswith("a6 BAD")
    assert raw_cmd(r, b"a7", b'LIST (REMOTE RECURSIVEMATCH) "" "%"')[1].startswith("a7 BAD")
    # SPECIAL-USE is an independent option, not a base one (RFC 6154 6)
    assert raw_cmd(r, b"a7b", b'LIST (SPECIAL-USE RECURSIVEMATCH) "" "%"')[1].startswith("a7b BAD")
    # SUBSCRIBED and SPECIAL-USE together: both must hold; CHILDINFO names the base
    lines, ok = raw_cmd(r, b"a7c", b'LIST (RECURSIVEMATCH SUBSCRIBED SPECIAL-USE) "" "*"')
    assert ok.startswith("a7c OK") and len(lines) == 5
    assert all("\\Subscribed" in l and "CHILDINFO" not in l for l in lines), lines
    # CHILDINFO never appears without RECURSIVEMATCH
    lines, ok = raw_cmd(r, b"a8", b'LIST "" "*" RETURN (SUBSCRIBED CHILDREN)')
    assert ok.startswith("a8 OK") and not any("CHILDINFO" in l for l in lines)
    # LSUB with "%": an unsubscribed parent of subscribed names is \Noselect
    # (RFC 3501 6.3.9); with "*" every subscription is listed itself
    lines, ok = raw_cmd(r, b"a10", b'LSUB "" "%"')
    assert mine(lines) == sorted(['* LSUB (\\Noselect) "." "Fruit"',
                                  '* LSUB (\\HasChildren) "." "Vegetable"']), lines
    lines, ok = raw_cmd(r, b"a11", b'LSUB "" "*"')
    assert mine(lines) == sorted(['* LSUB () "." "Fruit.Banana"', '* LSUB () "." "Fruit.Peach"',
                                  '* LSUB (\\HasChildren) "." "Vegetable"',
                                  '* LSUB () "." "Vegetable.Broccoli"']), lines
    r.send(b"a9 LOGOUT\r\n")
    r.until_tag(b"a9")


def test_list_recursivematch_redundant_parents_suppressed(server):
    """RFC 5258 section 5, example 9: a parent that matches the pattern but
    is not subscribed is listed (with CHILDINFO) only when a subscribed
    descendant is not listed itself; qux2 does not exist at all."""
    make_folders(server, ["foo2.bar1", "foo2.bar2", "baz2.bar2", "baz2.bar22", "baz2.bar222",
                          "eps2.mamba"],
                 ["foo2.bar1", "foo2.bar2", "baz2.bar2", "baz2.bar22", "baz2.bar222", "eps2",
                  "eps2.mamba", "qux2.bar2"],
                 foreign=["qux2.bar2"])
    r = raw_login(server)
    lines, ok = raw_cmd(r, b"d3", b'LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"')
    assert ok.startswith("d3 OK")
    assert lines == sorted([
        '* LIST (\\HasChildren) "." "foo2" ("CHILDINFO" ("SUBSCRIBED"))',
        '* LIST (\\HasNoChildren \\Subscribed) "." "foo2.bar2"',
        '* LIST (\\HasNoChildren \\Subscribed) "." "baz2.bar2"',
        '* LIST (\\HasNoChildren \\Subscribed) "." "baz2.bar22"',
        '* LIST (\\HasNoChildren \\Subscribed) "." "baz2.bar222"',
        '* LIST (\\HasChildren \\Subscribed) "." "eps2" ("CHILDINFO" ("SUBSCRIBED"))',
        '* LIST (\\HasNoChildren \\Subscribed) "." "qux2.bar2"']), lines
    # a parent that exists nowhere: \NonExistent with CHILDINFO (example 10)
    lines, ok = raw_cmd(r, b"d4", b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "qux2"')
    assert lines == ['* LIST (\\NonExistent \\HasChildren) "." "qux2" ("CHILDINFO" ("SUBSCRIBED"))'], lines
    # a reference narrows the pattern as usual
    lines, ok = raw_cmd(r, b"d5", b'LIST (SUBSCRIBED RECURSIVEMATCH) "foo2." "%"')
    assert lines == sorted(['* LIST (\\HasNoChildren \\Subscribed) "." "foo2.bar1"',
                     '* LIST (\\HasNoChildren \\Subscribed) "." "foo2.bar2"']), lines
    r.send(b"d6 LOGOUT\r\n")
    r.until_tag(b"d6")


def test_bodystructure_rfc2231_parameters_decoded(server):
    """RFC 2231 parameters reach the client decoded (RFC 9051 7.5.2):
    continuations joined, %XX undone, the charset converted to UTF-8."""
    server.deliver(b"From: a@example.org\r\nSubject: rates\r\nMIME-Version: 1.0\r\n"
                   b"Content-Type: application/pdf;\r\n name*0*=utf-8''%E2%82%AC;\r\n name*1=\" rates.pdf\"\r\n"
                   b"Content-Disposition: attachment; filename*=iso-8859-1''caf%E9.pdf\r\n"
                   b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n")
    c = connect(server)
    c.select("INBOX")
    typ, data = c.fetch("1", "(BODYSTRUCTURE)")
    assert typ == "OK"
    got = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data)  # imaplib drops a literal's CRLF
    assert b'("name" {13}\xe2\x82\xac rates.pdf)' in got, got
    assert b'("attachment" ("filename" {9}caf\xc3\xa9.pdf))' in got, got
    assert b"*0" not in got and b"''" not in got
    c.logout()


def test_qresync_after_expunge_records_pruned():
    """With few expunge records kept (qresync_expunge_records), a client whose
    state predates the oldest record is told VANISHED (EARLIER) for every UID
    of its known range that is gone (RFC 7162 allows naming UIDs expunged
    before its modseq); a client from after the cut gets the exact list."""
    inst = ImapInstance({"qresync_expunge_records": "5"})
    try:
        srv = Mailbox(inst)
        srv.append(*[SIMPLE] * 10)
        other = connect(srv)
        other.select("INBOX")

        def expunge(uid):
            other.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
            other.expunge()
            typ, data = other.status("INBOX", "(HIGHESTMODSEQ)")
            return int(re.search(rb"HIGHESTMODSEQ (\d+)", data[0]).group(1))

        old_state = expunge(9)          # expunged before the client's state
        for uid in (1, 2):
            expunge(uid)
        cut = expunge(3)
        for uid in (4, 5, 6, 7):
            expunge(uid)                # 8 records: the oldest 4 (9, 1, 2, 3) pruned
        assert "expunge records up to modseq %d pruned" % cut in inst.log_text()
        r = raw_login(srv)
        r.send(b"b2 ENABLE QRESYNC\r\n")
        r.until_tag(b"b2")
        r.send(b"b3 EXAMINE INBOX\r\n")
        uv = int(re.search(rb"UIDVALIDITY (\d+)", b"\r\n".join(r.until_tag(b"b3"))).group(1))
        r.send(b"b4 SELECT INBOX (QRESYNC (%d %d 1:10))\r\n" % (uv, old_state))
        lines = r.until_tag(b"b4")
        assert b"* VANISHED (EARLIER) 1:7,9" in lines, lines
        r.send(b"b5 SELECT INBOX (QRESYNC (%d %d 1:8))\r\n" % (uv, old_state))
        assert b"* VANISHED (EARLIER) 1:7" in r.until_tag(b"b5")
        r.send(b"b6 SELECT INBOX (QRESYNC (%d %d 1:10))\r\n" % (uv, cut))
        lines = r.until_tag(b"b6")
        assert b"* VANISHED (EARLIER) 4:7" in lines, lines
        r.send(b"b7 UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)\r\n" % old_state)
        assert b"* VANISHED (EARLIER) 1:7,9" in r.until_tag(b"b7")
        r.send(b"b8 LOGOUT\r\n")
        r.until_tag(b"b8")
        other.logout()
    finally:
        inst.close()
