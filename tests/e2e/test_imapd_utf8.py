"""UTF8=ACCEPT (RFC 6855) end to end on a real instance: ENABLE UTF8=ACCEPT,
UTF-8 mailbox names both ways (no modified UTF-7 then, while a session that
did not enable it keeps seeing modified UTF-7), UTF-8 in quoted strings,
SEARCH CHARSET refused, and APPEND's UTF8 (literal8) data item, alone and
as a CATENATE part. Raw sockets: the exact bytes."""
import os
import re

import pytest

from imap_harness import ImapInstance, Mailbox, RawImap

NAME = "Reisen & Ärger".encode()
MUTF7 = b"Reisen &- &AMQ-rger"
MSG = ("From: jörg@example.org\r\nSubject: Grüße aus Köln\r\n\r\nHallo ✓\r\n").encode()


@pytest.fixture(scope="module")
def imap_instance():
    inst = ImapInstance()
    yield inst
    inst.close()


@pytest.fixture
def server(imap_instance):
    return Mailbox(imap_instance)


def utf8_session(server):
    c = RawImap(server)
    assert b"UTF8=ACCEPT" in c.ok(b"CAPABILITY")[0].split()
    assert c.ok(b"ENABLE UTF8=ACCEPT") == [b"* ENABLED UTF8=ACCEPT"]
    return c


def fetch_body(c, uid):
    c.send(b"f UID FETCH %d BODY.PEEK[]\r\n" % uid)
    data = b""
    while not re.search(rb"\r\nf (OK|NO|BAD)[^\r\n]*\r\n$", data):
        data += c.s.recv(65536)
    m = re.search(rb"BODY\[\] \{(\d+)\}\r\n", data)
    return data[m.end():m.end() + int(m.group(1))]


def test_enable_and_utf8_mailbox_names(server):
    c = utf8_session(server)
    assert c.ok(b"ENABLE UTF8=ACCEPT") == [b"* ENABLED"]
    c.ok(b'CREATE "' + NAME + b'"')
    assert os.path.isdir(os.path.join(server.maildir(), "." + MUTF7.decode()))
    got = c.ok(b'LIST "" "Reisen*"')
    assert got == [b'* LIST (\\HasNoChildren) "." "' + NAME + b'"'], got
    st = c.ok(b'STATUS "' + NAME + b'" (MESSAGES)')
    assert st == [b'* STATUS "' + NAME + b'" (MESSAGES 0)'], st
    # a session that did not enable it keeps modified UTF-7 (RFC 3501 5.1.3)
    old = RawImap(server)
    got = old.ok(b'LIST "" "Reisen*"')
    assert got == [b'* LIST (\\HasNoChildren) "." "' + MUTF7 + b'"'], got
    old.ok(b'SELECT "' + MUTF7 + b'"')
    old.close()
    c.close()


def test_utf8_append_stores_the_octets_and_search_takes_utf8(server):
    c = utf8_session(server)
    c.ok(b'CREATE "' + NAME + b'"')
    lines = c.cmd(b'APPEND "' + NAME + b'" (\\Seen) UTF8 (~{%d+}\r\n' % len(MSG) + MSG + b")")
    m = re.match(rb"t\d+ OK \[APPENDUID \d+ (\d+)\]", lines[-1])
    assert m, lines
    c.ok(b'SELECT "' + NAME + b'"')
    assert fetch_body(c, int(m.group(1))) == MSG
    got = c.ok("SEARCH SUBJECT \"Grüße\"".encode())
    assert got[0].split()[-1] == b"1", got
    lines = c.cmd(b"SEARCH CHARSET UTF-8 SUBJECT x")
    assert lines[-1].startswith(c.tag + b" BAD"), lines
    # a CATENATE part may be a UTF8 literal too
    lines = c.cmd(b'APPEND INBOX CATENATE (UTF8 (~{%d+}\r\n' % len(MSG) + MSG +
                  b") TEXT {6+}\r\nmore\r\n)")
    m = re.match(rb"t\d+ OK \[APPENDUID \d+ (\d+)\]", lines[-1])
    assert m, lines
    c.ok(b"SELECT INBOX")
    assert fetch_body(c, int(m.group(1))) == MSG + b"more\r\n"
    c.close()


def test_utf8_append_needs_enable(server):
    c = RawImap(server)
    # synchronising: refused before the client sends the literal
    c.send(b"a1 APPEND INBOX UTF8 (~{%d}\r\n" % len(MSG))
    assert c.line().startswith(b"a1 BAD"), c.buf
    # non-synchronising: read, then refused; nothing stored
    lines = c.cmd(b"APPEND INBOX UTF8 (~{%d+}\r\n" % len(MSG) + MSG + b")")
    assert lines[-1].startswith(c.tag + b" BAD"), lines
    assert c.ok(b"STATUS INBOX (MESSAGES)") == [b'* STATUS "INBOX" (MESSAGES 0)']
    # malformed UTF8 items are BAD even when enabled
    c.ok(b"ENABLE UTF8=ACCEPT")
    for bad in (b"APPEND INBOX UTF8 {3+}\r\nabc", b"APPEND INBOX UTF8 ({3+}\r\nabc)",
                b"APPEND INBOX UTF8 (~{3+}\r\nabc"):
        lines = c.cmd(bad)
        assert lines[-1].startswith(c.tag + b" BAD"), (bad, lines)
    c.close()


def test_8bit_header_fields_need_enable(server):
    """RFC 6855 4: a server offering UTF8=ACCEPT refuses a message with
    8-bit header fields from a session that did not enable it (an 8-bit body
    is still fine); nothing of the command is stored."""
    c = RawImap(server)
    ascii_head = b"From: a@example.org\r\nSubject: plain\r\n\r\nK\xc3\xb6ln body\r\n"
    lines = c.cmd(b"APPEND INBOX {%d+}\r\n" % len(MSG) + MSG)
    assert lines[-1].startswith(c.tag + b" NO"), lines
    lines = c.cmd(b"APPEND INBOX {%d+}\r\n" % len(ascii_head) + ascii_head +
                  b" {%d+}\r\n" % len(MSG) + MSG)
    assert lines[-1].startswith(c.tag + b" NO"), lines
    assert c.ok(b"STATUS INBOX (MESSAGES)") == [b'* STATUS "INBOX" (MESSAGES 0)']
    assert os.listdir(os.path.join(server.maildir(), "tmp")) == []
    c.ok(b"APPEND INBOX {%d+}\r\n" % len(ascii_head) + ascii_head)
    c.ok(b"ENABLE UTF8=ACCEPT")
    c.ok(b"APPEND INBOX {%d+}\r\n" % len(MSG) + MSG)
    assert c.ok(b"STATUS INBOX (MESSAGES)") == [b'* STATUS "INBOX" (MESSAGES 2)']
    c.close()
