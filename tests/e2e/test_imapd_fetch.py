"""tern-imapd FETCH items and message parsing end to end, over raw IMAPS
against a real instance: ENVELOPE from every RFC 5322 address form, BINARY
decoding, binary APPEND, long ID lines, and the mailbox-level extensions
(PREVIEW, SAVEDATE, OBJECTID, METADATA, ...). Each test has a user of its own;
messages are APPENDed byte-exact. One instance serves the module."""
import re

import pytest

from imap_harness import ImapInstance, Mailbox, RawImap


@pytest.fixture(scope="module")
def imap_instance():
    inst = ImapInstance()
    yield inst
    inst.close()


@pytest.fixture
def server(imap_instance):
    return Mailbox(imap_instance)


def msg(headers, body=b"body\r\n"):
    return b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


def fetch_item(r, seq, item):
    """The untagged FETCH lines of `FETCH seq (item)`, joined."""
    return b"\n".join(r.ok(b"FETCH %s (%s)" % (seq, item)))


DATE = b"Date: Thu, 15 Feb 2007 01:02:03 +0200"


def test_envelope_address_forms(server):
    """RFC 5322 3.4 and the obsolete forms of 4.4, as RFC 3501 7.4.2 renders
    them: the comment after an addr-spec is the display name, groups are
    start/end markers, routes and quoted local parts are kept, a missing
    domain is filled in, an empty Sender/Reply-To falls back to From."""
    server.append(
        msg([DATE, b"From: user@domain (Real Name)",
             b"To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;",
             b"Cc: group:;, group2: (foo) ;",
             b"Sender: ", b"Reply-To: (nobody)"]),
        msg([DATE, b"From: <@route1,@route2:user@domain>",
             b"To: \"john doe\"@example.org, \"plain\"@example.org, nodomain",
             b"Cc: John Q. Public <jqp (x) @ example . com>, <user-from (c)@ (c) domain.org>"]))
    r = RawImap(server)
    r.ok(b"SELECT INBOX")
    env1 = fetch_item(r, b"1", b"ENVELOPE")
    real = b'(("Real Name" NIL "user" "domain"))'
    assert (b'ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL ' + real + b" " + real + b" " + real +
            b' ((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")(NIL NIL NIL NIL)'
            b'(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL))'
            b' ((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL NIL NIL))'
            b" NIL NIL NIL)") in env1, env1
    env2 = fetch_item(r, b"2", b"ENVELOPE")
    assert b'((NIL "@route1,@route2" "user" "domain"))' in env2, env2
    assert (b'((NIL NIL "\\"john doe\\"" "example.org")(NIL NIL "plain" "example.org")'
            b'(NIL NIL "nodomain" ".MISSING-HOST-NAME."))') in env2, env2
    assert (b'(("John Q. Public" NIL "jqp" "example.com")(NIL NIL "user-from" "domain.org"))'
            in env2), env2
    r.close()


QP_BODY = (b"hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\nfoo\t \t= \r\n=62\r\nfoo = \t\r\nbar\r\n"
           b"foo =\r\n=62\r\nfoo  \r\nbar=\r\n\r\nfoo_bar\r\n")
QP_DECODED = b"hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\nfoo\r\nbar\r\nfoo_bar\r\n"

BINARY_MSG = msg(
    [b"From: a@example.org", b"MIME-Version: 1.0",
     b"Content-Type: multipart/mixed; boundary=\"o\""],
    b"--o\r\nContent-Type: text/plain; charset=us-ascii\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + QP_BODY +
    b"\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: inner@example.org\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n"
    b"--i\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
    b"--i\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"AAEC\r\nAwQF\r\n"
    b"--i--\r\n"
    b"--o--\r\n")


def literal_of(data, item):
    """The octets of the literal that follows `item` in a FETCH response."""
    m = re.search(re.escape(item) + rb" ~?\{(\d+)\}\r\n", data)
    assert m, (item, data)
    return data[m.end():m.end() + int(m.group(1))]


def raw_fetch(r, text):
    """Everything up to the tagged reply (literals may hold CRLF)."""
    r.n += 1
    tag = b"t%d" % r.n
    r.send(tag + b" " + text + b"\r\n")
    data = r.buf
    r.buf = b""
    while not re.search(rb"(^|\r\n)" + tag + rb" (OK|NO|BAD)[^\r\n]*\r\n", data):
        d = r.s.recv(65536)
        assert d, data
        data += d
    return data


def test_binary_decodes_quoted_printable_base64_nested(server):
    """RFC 3516 BINARY undoes the transfer encoding per RFC 2045 6.7: "="
    soft line breaks (with transport padding after them) vanish, whitespace
    at the end of a line is dropped; base64 inside a message/rfc822 part too."""
    server.append(BINARY_MSG)
    r = RawImap(server)
    r.ok(b"SELECT INBOX")
    data = raw_fetch(r, b"FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.PEEK[1]<15.10>)")
    assert b"BINARY.SIZE[1] %d" % len(QP_DECODED) in data, data
    assert literal_of(data, b"BINARY[1]") == QP_DECODED
    assert literal_of(data, b"BINARY[1]<15>") == QP_DECODED[15:25]
    data = raw_fetch(r, b"FETCH 1 (BINARY.SIZE[2.2] BINARY.PEEK[2.2] BINARY.PEEK[2.1])")
    assert b"BINARY.SIZE[2.2] 6" in data, data
    assert literal_of(data, b"BINARY[2.2]") == b"\x00\x01\x02\x03\x04\x05"
    assert b"BINARY[2.2] ~{6}" in data  # NUL inside: a literal8
    assert literal_of(data, b"BINARY[2.1]") == b"inner text"
    r.close()


def append_literal8(r, mailbox, data):
    r.n += 1
    tag = b"t%d" % r.n
    r.send(tag + b" APPEND " + mailbox + b" ~{%d}\r\n" % len(data))
    assert r.line().startswith(b"+ ")
    r.send(data + b"\r\n")
    lines = r.until_tag(tag)
    assert lines[-1].startswith(tag + b" OK"), lines


def test_append_literal8_binary_parts_come_back_exactly(server):
    """RFC 3516: a binary APPEND's parts are stored so that BINARY returns
    the octets sent (NUL, lone CR and LF included) while BODY shows a 7-bit
    (base64) part; a literal8 without binary parts is stored as sent."""
    raw = b"\x00-\xe4\n\r\n\n"
    single = (b"From: user@domain.org\r\nContent-Type: application/octet-stream\r\n"
              b"Content-Transfer-Encoding: binary\r\n\r\n" + raw)
    png = b"\x89PNG\r\n\x1a\n\x00\r"
    multi = (b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n"
             b"--o\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
             b"--o\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: binary\r\n\r\n" + png +
             b"\r\n--o--\r\n")
    plain = b"Subject: plain\r\n\r\nno binary here\r\n"
    r = RawImap(server)
    for m in (single, multi, plain):
        append_literal8(r, b"INBOX", m)
    r.ok(b"SELECT INBOX")
    data = raw_fetch(r, b"FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BODY.PEEK[1])")
    assert b"BINARY.SIZE[1] 7" in data, data
    assert literal_of(data, b"BINARY[1]") == raw
    assert literal_of(data, b"BODY[1]") == b"AC3kCg0KCg==\r\n"
    data = raw_fetch(r, b"FETCH 2 (BINARY.PEEK[2] BINARY.PEEK[1] BODY.PEEK[2.MIME])")
    assert literal_of(data, b"BINARY[2]") == png
    assert literal_of(data, b"BINARY[1]") == b"see attachment"
    assert b"Content-Transfer-Encoding: base64" in literal_of(data, b"BODY[2.MIME]")
    data = raw_fetch(r, b"FETCH 3 (BODY.PEEK[] RFC822.SIZE)")
    assert literal_of(data, b"BODY[]") == plain
    assert b"RFC822.SIZE %d" % len(plain) in data
    # the stored size is what BODY[] sends
    data = raw_fetch(r, b"FETCH 1 (BODY.PEEK[] RFC822.SIZE)")
    size = int(re.search(rb"RFC822.SIZE (\d+)", data).group(1))
    assert len(literal_of(data, b"BODY[]")) == size
    r.close()


def id_line(pairs, value_len=1024):
    return b"ID (" + b" ".join(b'"k%02d%s" "%s"' % (i, b"x" * 27, b"1" * value_len)
                               for i in range(pairs)) + b")"


@pytest.mark.parametrize("login", [False, True])
def test_id_with_thirty_long_pairs_and_its_limits(server, login):
    """RFC 2971 allows 30 pairs of 30 + 1024 octets: a ~32 KB line, well over
    the 8 KB command line limit, is answered (before and after login); past
    the RFC's limits a BAD, and a line over 64 KB is too long; the
    connection stays up for the next command every time."""
    r = RawImap(server, login=login)
    line = id_line(30)
    assert len(line) > 31000
    assert r.cmd(line)[-2:] == [b'* ID ("name" "tern")', r.tag + b" OK ID completed"]
    assert b"More than 30 ID pairs" in r.cmd(id_line(31))[-1]
    assert r.cmd(b'ID ("k" "' + b"v" * 1025 + b'")')[-1].startswith(r.tag + b" BAD")
    assert r.cmd(b"ID (bad)")[-1].startswith(r.tag + b" BAD")
    assert r.cmd(b"ID NIL")[-1] == r.tag + b" OK ID completed"
    assert r.cmd(b'ID ("name" NIL "version" "1.0")')[-1] == r.tag + b" OK ID completed"
    r.n += 1
    r.send(b"t%d ID (" % r.n + b'"k" "v" ' * 9000 + b")\r\n")
    last = r.until_tag(b"t%d" % r.n)[-1]
    assert last.startswith(b"t%d BAD " % r.n) and b"too long" in last, last
    assert r.cmd(b"NOOP")[-1].startswith(r.tag + b" OK")
    # other commands keep the ordinary line limit
    last = r.cmd(b"NOOP " + b"x" * 9000)[-1]
    assert last.startswith(r.tag + b" BAD ") and b"too long" in last, last
    r.close()


def mailboxid(lines):
    m = re.search(rb"MAILBOXID \((M[0-9a-f]{24})\)", b"\n".join(lines))
    assert m, lines
    return m.group(1)


def test_objectid_mailboxid_emailid(server):
    """RFC 8474: CREATE and SELECT name the MAILBOXID, STATUS gives it; it
    follows RENAME and a deleted-and-recreated mailbox gets a new one.
    EMAILID is stable across flag changes and MOVE, new for a COPY; SEARCH
    EMAILID finds it; two unrelated messages have two THREADIDs (the threads
    themselves: test_jmap_mail.py) and an unknown THREADID matches nothing."""
    server.append(msg([DATE, b"Subject: one"]), msg([DATE, b"Subject: two"]))
    r = RawImap(server)
    caps = b"\n".join(r.ok(b"CAPABILITY"))
    assert b" OBJECTID" in caps
    created = r.cmd(b"CREATE Proj")
    assert created[-1].startswith(r.tag + b" OK [MAILBOXID (M"), created
    pid = mailboxid(created)
    assert mailboxid(r.ok(b"STATUS Proj (MAILBOXID MESSAGES)")) == pid
    inbox = mailboxid(r.ok(b"STATUS INBOX (MAILBOXID)"))
    assert inbox != pid
    sel = r.ok(b"SELECT INBOX")
    assert any(l.startswith(b"* OK [MAILBOXID (%s)]" % inbox) for l in sel), sel
    ids = re.findall(rb"\* (\d) FETCH \(EMAILID \((E[0-9a-f]{24})\) THREADID \((T[0-9a-f]{24})\)\)",
                     b"\n".join(r.ok(b"FETCH 1:2 (EMAILID THREADID)")))
    assert len(ids) == 2 and ids[0][1] != ids[1][1] and ids[0][2] != ids[1][2], ids
    e1, e2 = ids[0][1], ids[1][1]
    r.ok(b"STORE 1 +FLAGS (\\Seen $Label)")
    assert e1 in b"\n".join(r.ok(b"FETCH 1 EMAILID"))
    assert r.ok(b"SEARCH EMAILID " + e2) == [b"* SEARCH 2"]
    assert r.ok(b"SEARCH THREADID T0123") == [b"* SEARCH"]
    assert r.cmd(b"SEARCH EMAILID bad!id")[-1].startswith(r.tag + b" BAD")
    r.ok(b"COPY 2 Proj")
    r.ok(b"MOVE 1 Proj")
    r.ok(b"SELECT Proj")
    moved = b"\n".join(r.ok(b"UID FETCH 1:* EMAILID"))
    assert e1 in moved and e2 not in moved  # MOVE keeps the id, COPY makes a new message
    # RENAME keeps the MAILBOXID; DELETE + CREATE gives a new one
    r.ok(b"UNSELECT")
    r.ok(b"RENAME Proj Proj2")
    assert mailboxid(r.ok(b"STATUS Proj2 (MAILBOXID)")) == pid
    r.ok(b"DELETE Proj2")
    assert mailboxid(r.cmd(b"CREATE Proj2")) != pid
    r.close()


def test_status_size_is_the_sum_of_rfc822_sizes(server):
    """RFC 8438 STATUS=SIZE: the octets of every message, as RFC822.SIZE
    counts them (CRLF), kept right across an EXPUNGE."""
    a, b = msg([DATE, b"Subject: a"], b"x" * 1000 + b"\r\n"), msg([DATE, b"Subject: b"], b"y\n")
    server.append(a, b)
    r = RawImap(server)
    r.ok(b"SELECT INBOX")
    sizes = [int(x) for x in re.findall(rb"RFC822.SIZE (\d+)", b"\n".join(r.ok(b"FETCH 1:* RFC822.SIZE")))]
    assert sizes == [len(a), len(b) + 1]  # a bare LF is sent as CRLF
    assert r.ok(b"STATUS INBOX (SIZE MESSAGES)") == [b"* STATUS \"INBOX\" (MESSAGES 2 SIZE %d)" % sum(sizes)]
    r.ok(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    r.ok(b"EXPUNGE")
    assert r.ok(b"STATUS INBOX (SIZE)") == [b"* STATUS \"INBOX\" (SIZE %d)" % sizes[1]]
    r.close()


def list_attrs(r, pattern=b"*", ret=b""):
    """{name: attributes} of LIST "" pattern."""
    out = {}
    for l in r.ok(b'LIST "" "' + pattern + b'"' + ret):
        m = re.match(rb'\* LIST \(([^)]*)\) "\." "?([^"]*)"?$', l)
        assert m, l
        out[m.group(2)] = set(m.group(1).split())
    return out


def test_create_special_use_kept_across_restart(server):
    """RFC 6154 CREATE-SPECIAL-USE: CREATE name (USE (\\Attr ...)) gives the
    folder its use (any case in, canonical out), shown by LIST and LIST
    (SPECIAL-USE) and kept across a restart and a RENAME; \\All and \\Flagged
    (virtual here) are NO [USE] and create nothing; bad syntax is BAD.
    Renaming the default Sent folder keeps it \\Sent."""
    r = RawImap(server)
    assert b"CREATE-SPECIAL-USE" in b"\n".join(r.ok(b"CAPABILITY"))
    r.ok(b"CREATE MySent (USE (\\Sent))")
    r.ok(b"CREATE Keep (USE (\\archive \\JUNK \\Archive))")
    assert r.cmd(b"CREATE Virtual (USE (\\All))")[-1].startswith(r.tag + b" NO [USE]")
    assert r.cmd(b"CREATE Virtual2 (USE (\\Flagged))")[-1].startswith(r.tag + b" NO [USE]")
    assert r.cmd(b"CREATE Bad (USE (Sent))")[-1].startswith(r.tag + b" BAD")
    assert r.cmd(b"CREATE Bad (OTHER (\\Sent))")[-1].startswith(r.tag + b" BAD")
    r.ok(b"CREATE Plain (USE ())")
    r.close()
    server.restart()
    r = RawImap(server)
    attrs = list_attrs(r)
    assert b"Virtual" not in attrs and b"Virtual2" not in attrs and b"Bad" not in attrs
    assert b"\\Sent" in attrs[b"MySent"] and b"\\Sent" in attrs[b"Sent"]
    assert {b"\\Archive", b"\\Junk"} <= attrs[b"Keep"]
    assert not attrs[b"Plain"] & {b"\\Sent", b"\\Archive", b"\\Junk", b"\\Drafts", b"\\Trash"}
    special = list_attrs(r, ret=b" RETURN (SPECIAL-USE)")
    assert b"\\Sent" in special[b"MySent"]
    only = r.ok(b'LIST (SPECIAL-USE) "" "*"')
    assert not any(b'"Plain"' in l or b'"INBOX"' in l for l in only), only
    r.ok(b"RENAME MySent Outbox")
    r.ok(b"RENAME Sent Sent-2024")
    attrs = list_attrs(r)
    assert b"\\Sent" in attrs[b"Outbox"] and b"\\Sent" in attrs[b"Sent-2024"]
    r.close()


def append_dated(r, folder, date, body):
    """APPEND body with an internal date (LITERAL+, one send)."""
    lines = r.cmd(b'APPEND %s "%s" {%d+}\r\n%s' % (folder, date, len(body), body))
    assert lines[-1].startswith(r.tag + b" OK"), lines


def test_savedate_fetch_and_search(server):
    """RFC 8514: SAVEDATE is when the message came into this folder (APPEND,
    COPY), not its internal date, kept across a restart; SAVEDBEFORE/ON/SINCE
    compare it by day, SAVEDATESUPPORTED matches what has one; a bad date
    is BAD."""
    import datetime
    import time
    r = RawImap(server)
    assert b"SAVEDATE" in b"\n".join(r.ok(b"CAPABILITY")).split()
    append_dated(r, b"INBOX", b"01-Jan-2001 10:00:00 +0000", msg([DATE, b"Subject: old"]))
    r.ok(b"CREATE Other")
    r.ok(b"SELECT INBOX")
    out = fetch_item(r, b"1", b"SAVEDATE INTERNALDATE")
    m = re.search(rb'SAVEDATE "([^"]+)"', out)
    assert m and b'INTERNALDATE "01-Jan-2001 10:00:00 +0000"' in out, out
    saved = datetime.datetime.strptime(m.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
    assert abs(saved.timestamp() - time.time()) < 120, out
    today = time.strftime("%d-%b-%Y", time.gmtime()).encode()
    assert r.ok(b"SEARCH SAVEDON " + today) == [b"* SEARCH 1"]
    assert r.ok(b"SEARCH SAVEDSINCE 1-Jan-2020") == [b"* SEARCH 1"]
    assert r.ok(b"SEARCH SAVEDBEFORE 1-Jan-2020") == [b"* SEARCH"]
    assert r.ok(b"SEARCH BEFORE 1-Jan-2020") == [b"* SEARCH 1"]
    assert r.ok(b"SEARCH SAVEDATESUPPORTED") == [b"* SEARCH 1"]
    assert r.ok(b"SEARCH NOT SAVEDATESUPPORTED") == [b"* SEARCH"]
    assert r.cmd(b"SEARCH SAVEDON 32-Foo-2001")[-1].startswith(r.tag + b" BAD")
    assert r.cmd(b"SEARCH SAVEDSINCE")[-1].startswith(r.tag + b" BAD")
    time.sleep(1.1)
    r.ok(b"COPY 1 Other")
    r.ok(b"SELECT Other")
    copied = re.search(rb'SAVEDATE "([^"]+)"', fetch_item(r, b"1", b"SAVEDATE")).group(1)
    assert datetime.datetime.strptime(copied.decode(), "%d-%b-%Y %H:%M:%S %z") > saved
    r.ok(b"STORE 1 +FLAGS (\\Seen)")
    assert re.search(rb'SAVEDATE "([^"]+)"', fetch_item(r, b"1", b"SAVEDATE")).group(1) == copied
    r.close()
    server.restart()
    r = RawImap(server)
    r.ok(b"SELECT INBOX")
    assert m.group(0) in fetch_item(r, b"1", b"SAVEDATE")
    assert r.ok(b"UID SEARCH SAVEDATESUPPORTED SAVEDON " + today) == [b"* SEARCH 1"]
    r.close()


def preview_of(r, seq, mods=b""):
    """The PREVIEW value of message seq: bytes, or None for NIL (quoted or
    literal forms)."""
    lines = r.ok(b"FETCH %s (PREVIEW%s)" % (seq, mods))
    text = b"\r\n".join(lines)
    m = re.search(rb'PREVIEW (NIL|"((?:[^"\\]|\\.)*)"|\{(\d+)\}\r\n)', text, re.S)
    assert m, lines
    if m.group(1) == b"NIL":
        return None
    if m.group(3):
        return text[m.end():m.end() + int(m.group(3))]
    return re.sub(rb"\\(.)", rb"\1", m.group(2))


def test_preview_text_lazy_and_limits(server):
    """RFC 8970 PREVIEW: the start of the first text part as UTF-8 (text/plain
    preferred in an alternative, HTML as text without style/script,
    transfer encoding and charset undone), whitespace collapsed, at most 256
    characters; "" without text; LAZY is NIL until a plain PREVIEW stored it,
    then the same text; PREVIEW does not set \\Seen; bad modifiers are BAD."""
    long_body = (b"word " * 200) + b"\r\n"
    server.append(
        msg([DATE, b"Subject: plain"], b"Hello   there,\r\n\r\n\tsecond line\r\n"),
        msg([DATE, b"Content-Type: multipart/alternative; boundary=b"],
            b"--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
            b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 au lait\r\n--b--\r\n"),
        msg([DATE, b"Content-Type: text/html; charset=utf-8"],
            b"<html><head><title>T</title><style>p{x:y}</style></head><body>"
            b"<script>var a=1;</script><p>Fish &amp; chips&#33;</p><!-- c --><b>bold</b></body></html>\r\n"),
        msg([DATE], long_body),
        msg([DATE, b"Content-Type: multipart/mixed; boundary=z"],
            b"--z\r\nContent-Type: application/pdf\r\n\r\nPDF\r\n"
            b"--z\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nattached\r\n--z--\r\n"),
        msg([DATE, b"Content-Transfer-Encoding: base64", b"Content-Type: text/plain; charset=utf-8"],
            b"w7xiZXIgYWxsZXM=\r\n"))
    r = RawImap(server)
    assert b"PREVIEW" in b"\n".join(r.ok(b"CAPABILITY")).split()
    r.ok(b"SELECT INBOX")
    assert preview_of(r, b"1", b" (LAZY)") is None
    assert preview_of(r, b"1") == b"Hello there, second line"
    assert preview_of(r, b"1", b" (LAZY)") == b"Hello there, second line"
    assert preview_of(r, b"2") == "café au lait".encode()
    assert preview_of(r, b"3") == b"Fish & chips! bold"
    long_p = preview_of(r, b"4")
    assert len(long_p.decode()) == 256 and long_p.startswith(b"word word"), long_p
    assert preview_of(r, b"5") == b""
    assert preview_of(r, b"6") == "über alles".encode()
    both = b"\n".join(r.ok(b"UID FETCH 1:2 (PREVIEW (LAZY) UID FLAGS)"))
    assert both.count(b"PREVIEW") == 2 and b"\\Seen" not in both, both
    assert r.cmd(b"FETCH 1 (PREVIEW (FUZZY))")[-1].startswith(r.tag + b" BAD")
    assert r.cmd(b"FETCH 1 (PREVIEW (LAZY)")[-1].startswith(r.tag + b" BAD")
    assert r.cmd(b"FETCH 1 PREVIEW (LAZY LAZY LAZY LAZY LAZY)")[-1].startswith(r.tag + b" BAD")
    assert b"PREVIEW" in b"\n".join(r.ok(b"FETCH 1 PREVIEW (CHANGEDSINCE 1)"))
    r.close()


def test_preview_of_encrypted_message_is_empty(server):
    """A message encrypted at rest (PGP/MIME or S/MIME as stored): PREVIEW is
    "" with or without LAZY once asked, never text from the clear parts
    around the ciphertext, and the index keeps nothing else."""
    server.append(
        msg([DATE, b"Subject: kept subject",
             b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=e'],
            b"This is an OpenPGP/MIME encrypted message\r\n"
            b"--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
            b"--e\r\nContent-Type: application/octet-stream\r\n\r\n"
            b"-----BEGIN PGP MESSAGE-----\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n--e--\r\n"),
        msg([DATE, b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data",
             b"Content-Transfer-Encoding: base64"], b"MIAGCSqGSIb3DQEHA6CAMIACAQAx\r\n"))
    r = RawImap(server)
    r.ok(b"SELECT INBOX")
    for seq in (b"1", b"2"):
        assert preview_of(r, seq) == b""
        assert preview_of(r, seq, b" (LAZY)") == b""
    r.close()


def test_header_fields_after_256k_of_header(server):
    """BODY[HEADER.FIELDS] and .NOT see fields past the first 256 KB of a
    header (the parsed image keeps only those; the rest is read from the
    file). Before, X-Late was missing from both."""
    filler = [b"X-Filler-%04d: %060d" % (i, i) for i in range(5000)]	# ~380 KB
    server.append(msg(filler + [b"X-Late: found late", b"Subject: late too"]))
    r = RawImap(server)
    r.ok(b"SELECT INBOX")
    data = raw_fetch(r, b"FETCH 1 (BODY.PEEK[HEADER.FIELDS (X-Late Subject)])")
    assert literal_of(data, b"BODY[HEADER.FIELDS (X-Late Subject)]") == \
        b"X-Late: found late\r\nSubject: late too\r\n\r\n", data[:300]
    data = raw_fetch(r, b"FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Subject)])")
    rest = literal_of(data, b"BODY[HEADER.FIELDS.NOT (Subject)]")
    assert rest.endswith(b"X-Filler-4999: %060d\r\nX-Late: found late\r\n\r\n" % 4999), rest[-200:]
    r.close()
