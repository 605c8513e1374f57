"""APPEND's extensions end to end on a real instance: MULTIAPPEND (RFC 3502:
several messages in one command, all or nothing, APPENDUID with a UID set)
and CATENATE (RFC 4469: TEXT parts and IMAP URLs of this user's messages,
BADURL, TOOBIG, the limits on parts and messages). Raw sockets, so the
exact responses and the order of literals are what the test says."""
import os
import re

import pytest

from imap_harness import ImapInstance, Mailbox, RawImap

MAX_MESSAGE = 100000

M1 = (b"From: one@example.org\r\nSubject: first\r\n"
      b"Date: Sat, 24 Mar 2007 23:00:00 +0200\r\n\r\nbody one\r\n")
M2 = (b"From: two@example.org\r\nSubject: second\r\n\r\nbody two\r\n")
MIME = (b"From: three@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\npart one\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\npart two\r\n--b--\r\n")


@pytest.fixture(scope="module")
def imap_instance():
    inst = ImapInstance({"max_message_size": str(MAX_MESSAGE)})
    yield inst
    inst.close()


@pytest.fixture
def server(imap_instance):
    return Mailbox(imap_instance)


def lit(data):
    """A non-synchronising literal (LITERAL+)."""
    return b"{%d+}\r\n" % len(data) + data


def bodies(c, folder="INBOX"):
    """{uid: BODY[]} of every message in folder."""
    c.ok(b"SELECT " + folder.encode())
    c.send(b"f UID FETCH 1:* (BODY.PEEK[])\r\n")
    out, data = {}, b""
    while True:
        data += c.s.recv(65536)
        if re.search(rb"(^|\r\n)f (OK|NO|BAD)[^\r\n]*\r\n$", data):
            break
    for m in re.finditer(rb"\* \d+ FETCH \(UID (\d+) BODY\[\] \{(\d+)\}\r\n", data):
        start = m.end()
        out[int(m.group(1))] = data[start:start + int(m.group(2))]
    return out


def tmp_files(server, folder=None):
    return os.listdir(os.path.join(server.maildir(folder=folder), "tmp"))


def test_multiappend_stores_every_message_with_its_own_flags_and_date(server):
    c = RawImap(server)
    lines = c.cmd(b"APPEND INBOX (\\Seen) " + lit(M1) +
                  b" (\\Flagged $Work) \"01-Feb-2020 10:00:00 +0000\" " + lit(M2))
    m = re.match(rb"t\d+ OK \[APPENDUID (\d+) 1:2\]", lines[-1])
    assert m, lines
    got = c.ok(b"SELECT INBOX")
    assert b"* 2 EXISTS" in got
    flags = c.ok(b"UID FETCH 1:2 (FLAGS INTERNALDATE)")
    # new to this session's SELECT, so also \Recent (RFC 3501)
    assert b"FLAGS (\\Seen \\Recent)" in flags[0], flags
    assert b"FLAGS (\\Flagged \\Recent $Work)" in flags[1], flags
    assert b"01-Feb-2020 10:00:00 +0000" in flags[1]
    assert bodies(c) == {1: M1, 2: M2}
    c.close()


def test_multiappend_with_a_bad_message_stores_none(server):
    """The second message names a URL that does not exist: the first, already
    received, is not kept either, and no file stays in tmp/."""
    c = RawImap(server)
    lines = c.cmd(b"APPEND INBOX " + lit(M1) + b" CATENATE (URL \"/INBOX/;UID=77\")")
    assert lines[-1].startswith(c.tag + b" NO [BADURL /INBOX/;UID=77]"), lines
    assert b"* 0 EXISTS" in c.ok(b"SELECT INBOX")
    assert tmp_files(server) == []
    c.close()


def test_multiappend_refused_midway_before_a_literal_keeps_nothing(server):
    """A synchronising literal over the limit in the third message is refused
    before the client sends it; the command ends there and the two messages
    already received are dropped."""
    c = RawImap(server)
    c.send(b"a1 APPEND INBOX " + lit(M1) + b" " + lit(M2) + b" {%d}\r\n" % (MAX_MESSAGE + 1))
    assert c.line().startswith(b"a1 NO [TOOBIG]")
    assert c.ok(b"NOOP") == []
    assert b"* 0 EXISTS" in c.ok(b"SELECT INBOX")
    assert tmp_files(server) == []
    c.close()


def test_multiappend_to_a_missing_folder_with_synchronising_literals(server):
    c = RawImap(server)
    c.send(b"a1 APPEND NoSuch {%d}\r\n" % len(M1))
    assert c.line().startswith(b"a1 NO [TRYCREATE]")
    # non-synchronising: every literal is read and dropped, then refused
    lines = c.cmd(b"APPEND NoSuch " + lit(M1) + b" " + lit(M2))
    assert lines[-1].startswith(c.tag + b" NO [TRYCREATE]"), lines
    c.close()


def test_multiappend_synchronising_literals_and_a_literal_mailbox_name(server):
    c = RawImap(server)
    c.send(b"a1 APPEND {5}\r\n")
    assert c.line().startswith(b"+")
    c.send(b"INBOX {%d}\r\n" % len(M1))
    assert c.line().startswith(b"+")
    c.send(M1 + b" {%d}\r\n" % len(M2))
    assert c.line().startswith(b"+")
    c.send(M2 + b"\r\n")
    assert re.match(rb"a1 OK \[APPENDUID \d+ 1:2\]", c.line())
    assert bodies(c) == {1: M1, 2: M2}
    c.close()


def test_append_limits_on_messages_and_parts(server):
    c = RawImap(server)
    many = b" {0+}\r\n" * 1001
    assert c.cmd(b"APPEND INBOX" + many)[-1].startswith(c.tag + b" NO [LIMIT]")
    parts = b" ".join([b"TEXT " + lit(b"x")] * 101)
    assert c.cmd(b"APPEND INBOX CATENATE (" + parts + b")")[-1].startswith(c.tag + b" NO [LIMIT]")
    assert c.cmd(b"APPEND INBOX CATENATE ()")[-1].startswith(c.tag + b" BAD")
    assert c.cmd(b"APPEND INBOX " + lit(M1) + b" FOO")[-1].startswith(c.tag + b" BAD")
    assert b"* 0 EXISTS" in c.ok(b"SELECT INBOX")
    assert tmp_files(server) == []
    c.close()


def test_catenate_text_and_urls_of_this_users_messages(server):
    c = RawImap(server)
    c.ok(b"APPEND INBOX " + lit(M1) + b" " + lit(MIME))
    uv = re.search(rb"UIDVALIDITY (\d+)", b" ".join(c.ok(b"SELECT INBOX"))).group(1)
    c.ok(b"CREATE Out")
    cat = [
        # header of 1 (relative URL, UIDVALIDITY given) + new body
        (b"URL \"/INBOX;UIDVALIDITY=" + uv + b"/;UID=1/;SECTION=HEADER\" TEXT " + lit(b"new body\r\n"),
         M1[:M1.index(b"\r\n\r\n") + 4] + b"new body\r\n"),
        # a new header + part 2 of the MIME message + a suffix
        (b"TEXT " + lit(b"Subject: made\r\n\r\n") + b" URL \"/INBOX/;UID=2/;SECTION=2\" TEXT " +
         lit(b"\r\nend\r\n"), b"Subject: made\r\n\r\npart two\r\nend\r\n"),
        # a whole message by an absolute URL of the user, and a partial
        (b"URL \"imap://" + server.user.replace("@", "%40").encode() +
         b"@localhost/INBOX/;UID=1\"", M1),
        (b"TEXT " + lit(b"Subject: p\r\n\r\n") + b" URL \"/INBOX/;UID=1/;SECTION=TEXT/;PARTIAL=5.3\"",
         b"Subject: p\r\n\r\none"),
        # parts that join as CR + LF across the boundary
        (b"TEXT " + lit(b"Subject: cr\r") + b" TEXT " + lit(b"\n\r\nx\r\n"), b"Subject: cr\r\n\r\nx\r\n"),
    ]
    for parts, _ in cat:
        lines = c.cmd(b"APPEND Out (\\Seen) CATENATE (" + parts + b")")
        assert lines[-1].startswith(c.tag + b" OK [APPENDUID"), lines
    assert list(bodies(c, "Out").values()) == [want for _, want in cat]
    assert b"RFC822.SIZE %d" % len(M1) in b" ".join(c.ok(b"FETCH 3 RFC822.SIZE"))
    c.close()


def test_catenate_refusals(server, imap_instance):
    other = Mailbox(imap_instance)
    o = RawImap(other)
    o.ok(b"APPEND INBOX " + lit(M2))
    o.close()
    c = RawImap(server)
    c.ok(b"APPEND INBOX " + lit(M1))
    bad = [
        b"/INBOX;UIDVALIDITY=1/;UID=1",        # wrong UIDVALIDITY
        b"/INBOX/;UID=1/;SECTION=BOGUS",       # no such section
        b"/NoSuch/;UID=1",                     # no such folder
        b"/INBOX/;UID=1;URLAUTH=anonymous",    # a URLAUTH rump, no token
        b"imap://" + other.user.encode().replace(b"@", b"%40") + b"@localhost/INBOX/;UID=1",
        b"no url",
    ]
    for url in bad:
        lines = c.cmd(b"APPEND INBOX CATENATE (TEXT " + lit(b"a: b\r\n\r\n") + b" URL \"" + url + b"\")")
        assert lines[-1].startswith(c.tag + b" NO [BADURL " + url + b"]"), (url, lines)
    big = b"x" * (MAX_MESSAGE // 2)
    lines = c.cmd(b"APPEND INBOX CATENATE (TEXT " + lit(big) + b" TEXT " + lit(big) +
                  b" TEXT " + lit(big) + b")")
    assert lines[-1].startswith(c.tag + b" NO [TOOBIG]"), lines[-1]
    lines = c.cmd(b"APPEND INBOX CATENATE (URL \"/INBOX/;UID=1\" URL \"/INBOX/;UID=1\"" +
                  b" TEXT " + lit(big) + b" TEXT " + lit(big) + b")")
    assert lines[-1].startswith(c.tag + b" NO [TOOBIG]"), lines[-1]
    assert c.cmd(b"APPEND NoSuch CATENATE (URL \"/INBOX/;UID=1\")")[-1].startswith(
        c.tag + b" NO [TRYCREATE]")
    assert b"* 1 EXISTS" in c.ok(b"SELECT INBOX")
    assert tmp_files(server) == []
    c.close()


def test_appendlimit_in_capability_status_and_list_status(server):
    """RFC 7889: the limit CAPABILITY announces is every folder's, in STATUS
    and LIST-STATUS too; a message over it is refused before it is sent,
    and a non-synchronising literal over it ends the session (RFC 7888 4)."""
    c = RawImap(server)
    caps = c.ok(b"CAPABILITY")[0].split()
    assert b"APPENDLIMIT=%d" % MAX_MESSAGE in caps
    assert b"MULTIAPPEND" in caps and b"CATENATE" in caps and b"URL-PARTIAL" in caps
    st = c.ok(b"STATUS INBOX (MESSAGES APPENDLIMIT)")
    assert st == [b"* STATUS \"INBOX\" (MESSAGES 0 APPENDLIMIT %d)" % MAX_MESSAGE], st
    ls = c.ok(b'LIST "" "Sent" RETURN (STATUS (APPENDLIMIT))')
    assert b"* STATUS \"Sent\" (APPENDLIMIT %d)" % MAX_MESSAGE in ls, ls
    c.send(b"a1 APPEND INBOX {%d}\r\n" % (MAX_MESSAGE + 1))
    assert c.line().startswith(b"a1 NO [TOOBIG]")
    ok = c.cmd(b"APPEND INBOX " + lit(b"x" * MAX_MESSAGE))
    assert ok[-1].startswith(c.tag + b" OK [APPENDUID"), ok[-1]
    c.send(b"a2 APPEND INBOX {%d+}\r\n" % (MAX_MESSAGE + 1))
    assert c.line().startswith(b"* BYE")
    c.s.close()
