"""tern-imapd and IMAP4rev2 (RFC 9051): what changes for a client that sends
`ENABLE IMAP4rev2`, and that a client that does not still gets IMAP4rev1.

Raw sockets against a real instance (mailctl init/start: authd, both imapd
roles, smtpd, queued, deliverd); one instance for the module, a fresh user
per test (see imap_harness.py)."""
import imaplib
import re

import pytest

from imap_harness import ImapInstance, Mailbox, RawImap, tls_ctx

MSG = (b"From: a@example.org\r\nTo: b@example.test\r\nSubject: %s\r\n"
       b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nbody %s\r\n")


def msg(n):
    return MSG % (b"m%d" % n, b"x" * n)


@pytest.fixture(scope="module")
def imap_instance():
    inst = ImapInstance()
    yield inst
    inst.close()


@pytest.fixture
def server(imap_instance):
    return Mailbox(imap_instance)


def rev2(srv):
    r = RawImap(srv)
    assert r.ok(b"ENABLE IMAP4rev2") == [b"* ENABLED IMAP4rev2"]
    return r


def test_capability_advertises_both_revisions(server):
    r = RawImap(server, login=False)
    caps = r.cmd(b"CAPABILITY")[0].split()
    assert b"IMAP4rev1" in caps and b"IMAP4rev2" in caps
    r.ok(b"LOGIN " + server.user.encode() + b" " + server.pw.encode())
    caps = r.ok(b"CAPABILITY")[0].split()
    for c in (b"IMAP4rev1", b"IMAP4rev2", b"ENABLE", b"STATUS=SIZE", b"ESEARCH", b"UIDPLUS"):
        assert c in caps, c
    assert b"LITERAL-" not in caps  # LITERAL+ is advertised (RFC 7888: never both)
    # enabling twice reports nothing new; unknown names are ignored
    assert r.ok(b"ENABLE IMAP4rev2 X-UNKNOWN") == [b"* ENABLED IMAP4rev2"]
    assert r.ok(b"ENABLE IMAP4rev2") == [b"* ENABLED"]
    r.close()


def test_no_recent_once_enabled(server):
    server.deliver(msg(1))
    r = rev2(server)
    lines = r.ok(b"SELECT INBOX")
    assert b"* 1 EXISTS" in lines
    assert not [l for l in lines if b"RECENT" in l or b"UNSEEN" in l], lines
    # RFC 9051 6.3.2: a LIST of the selected mailbox
    assert b'* LIST (\\HasNoChildren) "." "INBOX"' in lines, lines
    fl = r.ok(b"FETCH 1 FLAGS")
    assert fl == [b"* 1 FETCH (FLAGS ())"], fl
    # a new delivery: EXISTS, and still no RECENT
    server.deliver(msg(2))
    lines = r.ok(b"NOOP")
    assert b"* 2 EXISTS" in lines and not [l for l in lines if b"RECENT" in l], lines
    assert r.ok(b"FETCH 2 FLAGS") == [b"* 2 FETCH (FLAGS ())"]
    assert r.ok(b"SEARCH RECENT") == [b'* ESEARCH (TAG "%s")' % r.tag]
    # IDLE: a delivery shows up as EXISTS alone
    r.send(b"i1 IDLE\r\n")
    assert r.line().startswith(b"+ ")
    server.deliver(msg(4))
    assert r.line() == b"* 3 EXISTS"
    r.send(b"DONE\r\n")
    lines = r.until_tag(b"i1")
    assert lines[-1].startswith(b"i1 OK") and not [l for l in lines if b"RECENT" in l], lines
    r.close()
    # a rev1 session still sees \Recent for mail that is new to it
    server.deliver(msg(3))
    r1 = RawImap(server)
    lines = r1.ok(b"SELECT INBOX")
    assert b"* 1 RECENT" in lines and b"* 4 EXISTS" in lines, lines
    assert not [l for l in lines if l.startswith(b"* LIST")], lines
    assert r1.ok(b"FETCH 4 FLAGS") == [b"* 4 FETCH (FLAGS (\\Recent))"]
    r1.close()


def test_select_closed_only_for_rev2(server):
    r1 = RawImap(server)
    r1.ok(b"SELECT INBOX")
    lines = r1.ok(b"EXAMINE INBOX")
    assert not [l for l in lines if b"CLOSED" in l], lines
    r1.close()
    r = rev2(server)
    lines = r.ok(b"SELECT INBOX")
    assert not [l for l in lines if b"CLOSED" in l], lines
    lines = r.ok(b"EXAMINE Sent")
    assert lines[0].startswith(b"* OK [CLOSED]"), lines
    assert any(l.startswith(b"* LIST (") and b"\\Sent" in l for l in lines), lines
    # a failing SELECT closes the previous mailbox too, and says so
    lines = r.cmd(b"SELECT nosuch")
    assert lines[0].startswith(b"* OK [CLOSED]") and lines[-1].startswith(r.tag + b" NO"), lines
    assert r.cmd(b"FETCH 1 FLAGS")[-1].startswith(r.tag + b" BAD")
    r.close()


def test_search_answered_by_esearch(server):
    server.append(msg(1), msg(2), msg(3))
    r1 = RawImap(server)
    r1.ok(b"SELECT INBOX")
    assert r1.ok(b"SEARCH ALL") == [b"* SEARCH 1 2 3"]
    r1.close()
    r = rev2(server)
    r.ok(b"SELECT INBOX")
    t = lambda: r.tag
    lines = r.ok(b"SEARCH ALL")
    assert lines == [b'* ESEARCH (TAG "%s") ALL 1:3' % t()]
    lines = r.ok(b"UID SEARCH 2:3")
    assert lines == [b'* ESEARCH (TAG "%s") UID ALL 2:3' % t()]
    lines = r.ok(b"SEARCH SUBJECT nomatch")
    assert lines == [b'* ESEARCH (TAG "%s")' % t()]
    lines = r.ok(b"SEARCH RETURN (MIN COUNT) 2:3")
    assert lines == [b'* ESEARCH (TAG "%s") MIN 2 COUNT 2' % t()]
    # CONDSTORE: the highest mod-sequence goes into the ESEARCH response
    # (SEARCH MODSEQ enables CONDSTORE: HIGHESTMODSEQ comes first, RFC 7162 3.1)
    lines = r.ok(b"SEARCH MODSEQ 1")
    assert lines[0].startswith(b"* OK [HIGHESTMODSEQ "), lines
    assert re.fullmatch(rb'\* ESEARCH \(TAG "t\d+"\) ALL 1:3 MODSEQ \d+', lines[1]), lines
    r.close()


def test_status_size_deleted(server):
    a, b = msg(10), msg(3000)
    server.append(a, b)
    server.append(msg(5), flags="(\\Deleted)")
    r = rev2(server)
    lines = r.ok(b"STATUS INBOX (MESSAGES SIZE DELETED DELETED-STORAGE UNSEEN)")
    total = len(a) + len(b) + len(msg(5))
    dkb = (len(msg(5)) + 1023) // 1024
    assert lines == [b"* STATUS \"INBOX\" (MESSAGES 3 UNSEEN 3 SIZE %d DELETED 1 DELETED-STORAGE %d)"
                     % (total, dkb)], lines
    # LIST-STATUS: each STATUS right after its LIST line
    lines = r.ok(b'LIST "" "*" RETURN (STATUS (MESSAGES DELETED SIZE))')
    for i, l in enumerate(lines):
        if l.startswith(b"* LIST") and b"\\NonExistent" not in l and b"\\Noselect" not in l:
            name = l.rsplit(b" ", 1)[1]
            assert lines[i + 1].startswith(b"* STATUS " + name + b" ("), lines
    assert b"* STATUS \"INBOX\" (MESSAGES 3 SIZE %d DELETED 1)" % total in lines, lines
    assert r.cmd(b"STATUS INBOX (BOGUS)")[-1].startswith(r.tag + b" BAD")
    r.close()


def test_nonsync_literal_over_4096(server):
    """IMAP4rev2 includes LITERAL-; we advertise LITERAL+, so a
    non-synchronising literal of any size within the limits is taken."""
    r = rev2(server)
    m = msg(6000)
    r.send(b"a1 APPEND INBOX {%d+}\r\n" % len(m) + m + b"\r\n")
    ok = r.until_tag(b"a1")[-1]
    assert ok.startswith(b"a1 OK [APPENDUID "), ok
    lines = r.ok(b"STATUS INBOX (MESSAGES SIZE)")
    assert lines == [b"* STATUS \"INBOX\" (MESSAGES 1 SIZE %d)" % len(m)]
    r.close()


def test_imaplib_rev1_unaffected(server):
    """Python's imaplib speaks IMAP4rev1 and never enables rev2."""
    server.deliver(msg(1))
    c = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=20)
    c.starttls(ssl_context=tls_ctx(server.cert()))
    assert "IMAP4REV2" in c.capabilities and c.PROTOCOL_VERSION == "IMAP4REV1"
    c.login(server.user, server.pw)
    typ, data = c.select("INBOX")
    assert typ == "OK" and c.untagged_responses.get("RECENT") == [b"1"]
    assert c.search(None, "ALL") == ("OK", [b"1"])
    typ, data = c.fetch("1", "(FLAGS)")
    assert b"\\Recent" in data[0]
    c.logout()


def fetched(lines):
    """The sequence numbers of the FETCH responses among lines."""
    return [int(l.split()[1]) for l in lines if re.match(rb"\* \d+ FETCH ", l)]


@pytest.mark.parametrize("enable", [False, True])
def test_searchres_save_and_dollar(server, enable):
    """SEARCHRES (RFC 5182, part of RFC 9051): RETURN (SAVE) and "$" in
    FETCH, STORE, SEARCH, COPY, MOVE and UID EXPUNGE; rev1 sessions too."""
    server.append(*[msg(i) for i in range(1, 7)])
    r = rev2(server) if enable else RawImap(server)
    r.ok(b"SELECT INBOX")
    # "$" before any SAVE: the empty set, no error
    assert r.ok(b"FETCH $ FLAGS") == []
    r.ok(b"STORE 2,4,6 +FLAGS.SILENT (\\Flagged)")
    # SAVE alone: no ESEARCH (nor SEARCH) response at all
    assert r.ok(b"SEARCH RETURN (SAVE) FLAGGED") == []
    assert fetched(r.ok(b"FETCH $ (FLAGS)")) == [2, 4, 6]
    lines = r.ok(b"UID FETCH $ (FLAGS)")
    assert fetched(lines) == [2, 4, 6] and all(b"UID" in l for l in lines), lines
    # "$" as a search key, alone and combined, numbers and UIDs
    want = b'* ESEARCH (TAG "%s") ALL 4:6' if enable else b"* SEARCH 4 6"
    assert r.ok(b"SEARCH $ 3:6") == [want.replace(b"%s", r.tag).replace(b"4:6", b"4,6")]
    want = b'* ESEARCH (TAG "%s") UID ALL 2,4' if enable else b"* SEARCH 2 4"
    assert r.ok(b"UID SEARCH UID $ NOT 6") == [want.replace(b"%s", r.tag)]
    # SORT and THREAD take it as a search key too
    assert r.ok(b"SORT (REVERSE SIZE) UTF-8 $") == [b"* SORT 6 4 2"]
    assert r.ok(b"UID THREAD ORDEREDSUBJECT UTF-8 $") == [b"* THREAD (2)(4)(6)"]
    # STORE $, and the flags it set
    r.ok(b"STORE $ +FLAGS.SILENT (\\Seen)")
    lines = r.ok(b"SEARCH RETURN (ALL) SEEN")
    assert lines == [b'* ESEARCH (TAG "%s") ALL 2,4,6' % r.tag], lines
    # COPY $: COPYUID names the saved UIDs
    ok = r.cmd(b"COPY $ Trash")[-1]
    assert ok.startswith(r.tag + b" OK [COPYUID ") and b" 2,4,6 " in ok, ok
    # SAVE with MIN/MAX only keeps those; with ALL (or COUNT) every match
    assert r.ok(b"SEARCH RETURN (SAVE MIN) FLAGGED") == [b'* ESEARCH (TAG "%s") MIN 2' % r.tag]
    assert fetched(r.ok(b"FETCH $ FLAGS")) == [2]
    lines = r.ok(b"SEARCH RETURN (SAVE MIN MAX) FLAGGED")
    assert lines == [b'* ESEARCH (TAG "%s") MIN 2 MAX 6' % r.tag], lines
    assert fetched(r.ok(b"FETCH $ FLAGS")) == [2, 6]
    lines = r.ok(b"UID SEARCH RETURN (SAVE COUNT) 1:3")
    assert lines == [b'* ESEARCH (TAG "%s") UID COUNT 3' % r.tag], lines
    assert fetched(r.ok(b"FETCH $ FLAGS")) == [1, 2, 3]
    # UID EXPUNGE $ expunges only the saved messages that are \Deleted
    r.ok(b"STORE 1:* +FLAGS.SILENT (\\Deleted)")
    r.ok(b"SEARCH RETURN (SAVE) 5:6")
    lines = r.ok(b"UID EXPUNGE $")
    assert lines == [b"* 6 EXPUNGE", b"* 5 EXPUNGE"], lines
    # the expunged messages left "$"
    assert r.ok(b"FETCH $ FLAGS") == []
    r.ok(b"STORE 1:* -FLAGS.SILENT (\\Deleted)")
    # MOVE $
    r.ok(b"SEARCH RETURN (SAVE) 1,3")
    lines = r.ok(b"MOVE $ Archive")
    assert lines[0].startswith(b"* OK [COPYUID ") and lines[1:] == [b"* 3 EXPUNGE", b"* 1 EXPUNGE"], lines
    assert r.ok(b"STATUS Archive (MESSAGES)")[0].endswith(b"(MESSAGES 2)")
    r.close()


def test_searchres_reset(server):
    server.append(msg(1), msg(2), msg(3))
    r = rev2(server)
    r.ok(b"SELECT INBOX")
    r.ok(b"SEARCH RETURN (SAVE) 2:3")
    assert fetched(r.ok(b"FETCH $ FLAGS")) == [2, 3]
    # a SEARCH with SAVE that fails empties "$"
    assert r.cmd(b"SEARCH RETURN (SAVE) NOSUCHKEY")[-1].startswith(r.tag + b" BAD")
    assert r.ok(b"FETCH $ FLAGS") == []
    r.ok(b"SEARCH RETURN (SAVE) 1")
    assert fetched(r.ok(b"FETCH $ FLAGS")) == [1]
    lines = r.cmd(b"SEARCH RETURN (SAVE) CHARSET X-NOSUCH SUBJECT a")
    assert b"BADCHARSET" in lines[-1], lines
    assert r.ok(b"FETCH $ FLAGS") == []
    # a SEARCH without SAVE leaves it alone
    r.ok(b"SEARCH RETURN (SAVE) 1")
    r.ok(b"SEARCH 2")
    assert fetched(r.ok(b"FETCH $ FLAGS")) == [1]
    # a new selection starts with an empty "$"
    r.ok(b"SELECT INBOX")
    assert r.ok(b"FETCH $ FLAGS") == []
    # "$" never mixes with other numbers
    assert r.cmd(b"FETCH $,1 FLAGS")[-1].startswith(r.tag + b" BAD")
    assert r.cmd(b"SEARCH $:2")[-1].startswith(r.tag + b" BAD")
    r.close()


def test_utf8_mailbox_names(server):
    """IMAP4rev2 names are UTF-8 (RFC 9051 5.1); they are stored, and shown
    to IMAP4rev1 clients, in modified UTF-7 (RFC 3501 5.1.3)."""
    import os
    de, jp = "Entwürfe".encode(), "日本語".encode()
    r = rev2(server)
    r.ok(b'CREATE "' + de + b'"')
    r.ok(b'CREATE "R&D"')
    assert os.path.isdir(server.maildir(folder="Entw&APw-rfe"))
    assert os.path.isdir(server.maildir(folder="R&-D"))
    r1 = RawImap(server)
    r1.ok(b"CREATE &ZeVnLIqe-.Sub")  # 日本語.Sub, made by a rev1 client
    lines = r1.ok(b'LIST "" "*"')
    for n in (b'"Entw&APw-rfe"', b'"R&-D"', b'"&ZeVnLIqe-"', b'"&ZeVnLIqe-.Sub"'):
        assert any(l.endswith(b" " + n) for l in lines), (n, lines)
    # the rev2 session sees (and matches) UTF-8 names
    lines = r.ok(b'LIST "" "*"')
    for n in (b'"' + de + b'"', b'"R&D"', b'"' + jp + b'"', b'"' + jp + b'.Sub"'):
        assert any(l.endswith(b" " + n) for l in lines), (n, lines)
    lines = r.ok(b'LIST "" "' + "日*".encode() + b'"')
    assert [l.rsplit(b" ", 1)[1] for l in lines] == [b'"' + jp + b'"', b'"' + jp + b'.Sub"'], lines
    lines = r.ok(b'LIST "" "' + "Entw%rfe".encode() + b'"')
    assert lines == [b'* LIST (\\HasNoChildren) "." "' + de + b'"'], lines
    assert r.ok(b'LIST "" "Entw&APw-rfe"') == []  # a rev2 pattern is not modified UTF-7
    # STATUS, APPEND, SELECT, COPY with UTF-8 names
    m = msg(1)
    r.send(b'a1 APPEND "' + de + b'" {%d+}\r\n' % len(m) + m + b"\r\n")
    assert r.until_tag(b"a1")[-1].startswith(b"a1 OK")
    assert r.ok(b'STATUS "' + de + b'" (MESSAGES)') == [b'* STATUS "' + de + b'" (MESSAGES 1)']
    lines = r.ok(b'SELECT "' + de + b'"')
    assert b'* LIST (\\HasNoChildren) "." "' + de + b'"' in lines, lines
    ok = r.cmd(b'COPY 1 "' + jp + b'.Sub"')[-1]
    assert b"COPYUID" in ok, ok
    # a literal works as well as a quoted string
    lines = r.ok(b"STATUS {%d+}\r\n" % len(jp + b".Sub") + jp + b".Sub (MESSAGES)")
    assert lines == [b'* STATUS "' + jp + b'.Sub" (MESSAGES 1)'], lines
    assert r1.ok(b"STATUS &ZeVnLIqe-.Sub (MESSAGES)") == [b'* STATUS "&ZeVnLIqe-.Sub" (MESSAGES 1)']
    # RENAME and SUBSCRIBE / LSUB, both ways
    r.ok(b'RENAME "R&D" "' + "Forschung&Entwicklung".encode() + b'"')
    r.ok(b'SUBSCRIBE "' + jp + b'"')
    assert b'* LSUB (\\HasChildren) "." "&ZeVnLIqe-"' in r1.ok(b'LSUB "" "*"')
    assert b'* LSUB (\\HasChildren) "." "' + jp + b'"' in r.ok(b'LSUB "" "*"')
    assert any(l.endswith(b' "Forschung&-Entwicklung"') for l in r1.ok(b'LIST "" "F*"'))
    # not UTF-8: refused, nothing made
    assert r.cmd(b'CREATE "caf\xe9"')[-1].startswith(r.tag + b" BAD")
    assert r.cmd(b'SELECT "\xff\xfe"')[-1].startswith(r.tag + b" BAD")
    r.close()
    r1.close()


def test_gaps_haschildren_and_removed_commands(server):
    """A level that exists only as the parent of a folder another Maildir
    tool made: \\NonExistent for IMAP4rev2 (\\Noselect for rev1); DELETE of
    it is refused with HASCHILDREN (RFC 9051 6.3.4). CHECK and LSUB, gone
    from RFC 9051, are still accepted."""
    import os
    from imap_harness import chown_vmail
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(server.maildir(), ".Lists.tern", sub))
    chown_vmail(server.maildir())
    r1 = RawImap(server)
    assert b'* LIST (\\Noselect \\HasChildren) "." "Lists"' in r1.ok(b'LIST "" "%"')
    r = rev2(server)
    assert b'* LIST (\\NonExistent \\HasChildren) "." "Lists"' in r.ok(b'LIST "" "%"')
    for c in (r, r1):
        lines = c.cmd(b"DELETE Lists")
        assert lines[-1].startswith(c.tag + b" NO [HASCHILDREN]"), lines
        assert c.cmd(b"DELETE Nope")[-1].startswith(c.tag + b" NO [NONEXISTENT]")
    assert r.cmd(b"SELECT Nope")[-1].startswith(r.tag + b" NO [NONEXISTENT]")
    assert os.path.isdir(os.path.join(server.maildir(), ".Lists.tern"))
    r.ok(b"SELECT Lists.tern")
    r.ok(b"CHECK")
    r.ok(b"SUBSCRIBE Lists.tern")
    assert r.ok(b'LSUB "" "Lists.*"') == [b'* LSUB () "." "Lists.tern"']
    # a mailbox cannot move under itself (INBOX can: its messages move)
    r.ok(b"CREATE Box")
    assert r.cmd(b"RENAME Box Box.Inner")[-1].startswith(r.tag + b" NO [CANNOT]")
    assert r.cmd(b"RENAME Box Box")[-1].startswith(r.tag + b" NO [ALREADYEXISTS]")
    r.ok(b"RENAME Box Boxes")
    # the folder itself can go; its parent level goes with it
    r.ok(b"DELETE Lists.tern")
    assert not [l for l in r.ok(b'LIST "" "*"') if b"Lists" in l]
    r.close()
    r1.close()
