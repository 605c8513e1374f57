"""METADATA (RFC 5464) end to end on a real instance: GETMETADATA with
MAXSIZE and DEPTH, SETMETADATA (strings, literals, NIL), /private and
/shared, server entries (""), the announced limits (MAXSIZE, TOOMANY),
entries following RENAME and gone with DELETE, and a second session seeing
what the first one set (issue 18). Raw sockets: the exact responses."""
import os

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


def test_metadata_is_advertised(server):
    c = RawImap(server)
    caps = c.ok(b"CAPABILITY")[0].split()
    assert b"METADATA" in caps and b"METADATA-SERVER" in caps
    c.close()


def test_set_and_get_mailbox_and_server_entries(server):
    c = RawImap(server)
    c.ok(b'SETMETADATA INBOX (/private/comment "My comment" /shared/Comment {7+}\r\nshared!)')
    got = c.ok(b"GETMETADATA INBOX (/private/comment /shared/comment /private/none)")
    assert got == [b'* METADATA "INBOX" (/private/comment "My comment" '
                   b'/shared/comment "shared!" /private/none NIL)'], got
    # the server's own entries are apart from INBOX's
    c.ok(b'SETMETADATA "" (/shared/admin "mailto:postmaster@example.test")')
    got = c.ok(b'GETMETADATA "" /shared/admin')
    assert got == [b'* METADATA "" (/shared/admin "mailto:postmaster@example.test")'], got
    got = c.ok(b'GETMETADATA "" /private/comment')
    assert got == [b'* METADATA "" (/private/comment NIL)'], got
    # names are case-insensitive; NIL removes
    c.ok(b"SETMETADATA INBOX (/PRIVATE/Comment NIL)")
    got = c.ok(b"GETMETADATA INBOX /private/comment")
    assert got == [b'* METADATA "INBOX" (/private/comment NIL)'], got
    c.close()


def test_a_second_session_sees_the_first_ones_metadata(server):
    a, b = RawImap(server), RawImap(server)
    a.ok(b'SETMETADATA Sent (/private/vendor/x/color "blue")')
    got = b.ok(b"GETMETADATA Sent /private/vendor/x/color")
    assert got == [b'* METADATA "Sent" (/private/vendor/x/color "blue")'], got
    b.ok(b'SETMETADATA Sent (/private/vendor/x/color "red")')
    got = a.ok(b"GETMETADATA Sent /private/vendor/x/color")
    assert got == [b'* METADATA "Sent" (/private/vendor/x/color "red")'], got
    a.close()
    b.close()


def test_depth_and_maxsize(server):
    c = RawImap(server)
    c.ok(b'SETMETADATA INBOX (/private/f "root" /private/f/a "1" /private/f/a/deep "2" '
         b'/private/f/big "' + b"x" * 100 + b'" /private/fx "other")')
    got = c.ok(b"GETMETADATA (DEPTH 1) INBOX /private/f")
    assert got == [b'* METADATA "INBOX" (/private/f "root" /private/f/a "1" /private/f/big "'
                   + b"x" * 100 + b'")'], got
    got = c.ok(b"GETMETADATA (DEPTH infinity) INBOX (/private/f)")
    assert b"/private/f/a/deep" in got[0] and b"/private/fx" not in got[0], got
    lines = c.cmd(b"GETMETADATA (MAXSIZE 10 DEPTH infinity) INBOX /private/f")
    assert lines[0] == (b'* METADATA "INBOX" (/private/f "root" /private/f/a "1" '
                        b'/private/f/a/deep "2")'), lines
    assert lines[-1].startswith(c.tag + b" OK [METADATA LONGENTRIES 100]"), lines
    # DEPTH with the bare scope lists everything below it
    got = c.ok(b"GETMETADATA (DEPTH infinity) INBOX /private")
    assert got[0].count(b"/private/") == 5, got
    c.close()


def test_binary_values_come_back_as_literals(server):
    c = RawImap(server)
    c.ok(b"SETMETADATA INBOX (/private/bin ~{5+}\r\na\x00b\r\n /private/ml {4+}\r\nx\r\ny)")
    c.send(b"g GETMETADATA INBOX (/private/bin /private/ml)\r\n")
    data = b""
    while not data.endswith(b"g OK GETMETADATA completed\r\n"):
        data += c.s.recv(65536)
    assert data.startswith(b'* METADATA "INBOX" (/private/bin ~{5}\r\na\x00b\r\n '
                           b'/private/ml {4}\r\nx\r\ny)\r\n'), data
    c.close()


def test_limits_are_announced(server):
    c = RawImap(server)
    big = b"y" * (16 * 1024 + 1)
    lines = c.cmd(b"SETMETADATA INBOX (/private/big {%d+}\r\n" % len(big) + big + b")")
    assert lines[-1].startswith(c.tag + b" NO [METADATA MAXSIZE 16384]"), lines
    many = b" ".join(b'/shared/e%d "v"' % i for i in range(100))
    c.ok(b"SETMETADATA Drafts (" + many + b")")
    lines = c.cmd(b'SETMETADATA Drafts (/shared/one-more "v")')
    assert lines[-1].startswith(c.tag + b" NO [METADATA TOOMANY]"), lines
    # nothing of a refused command is kept; replacing and removing still work
    assert c.ok(b"GETMETADATA Drafts /shared/one-more") == \
        [b'* METADATA "Drafts" (/shared/one-more NIL)']
    c.ok(b'SETMETADATA Drafts (/shared/e1 "w" /shared/e2 NIL)')
    c.ok(b'SETMETADATA Drafts (/shared/one-more "v")')
    for bad in (b'SETMETADATA INBOX (/other/x "v")', b'SETMETADATA INBOX (/private "v")',
                b'SETMETADATA INBOX (/private/a*b "v")', b'SETMETADATA INBOX (/private//a "v")',
                b'SETMETADATA INBOX (/private/a/ "v")', b"SETMETADATA INBOX ()",
                b"GETMETADATA (DEPTH 2) INBOX /private/x", b"GETMETADATA (FOO 1) INBOX /private/x",
                b"GETMETADATA INBOX /private/%", b"GETMETADATA INBOX (" +
                b" ".join(b"/private/%d" % i for i in range(101)) + b")"):
        lines = c.cmd(bad)
        assert lines[-1].startswith(c.tag + b" BAD"), (bad, lines)
    for missing in (b'SETMETADATA Nope (/private/x "v")', b"GETMETADATA Nope /private/x"):
        lines = c.cmd(missing)
        assert lines[-1].startswith(c.tag + b" NO [NONEXISTENT]"), lines
    c.close()


def test_entries_follow_rename_and_go_with_delete(server):
    c = RawImap(server)
    c.ok(b"CREATE Proj")
    c.ok(b"CREATE Proj.Sub")
    c.ok(b'SETMETADATA Proj (/private/comment "parent")')
    c.ok(b'SETMETADATA Proj.Sub (/private/comment "child")')
    c.ok(b"RENAME Proj Work")
    assert c.ok(b"GETMETADATA Work /private/comment") == \
        [b'* METADATA "Work" (/private/comment "parent")']
    assert c.ok(b"GETMETADATA Work.Sub /private/comment") == \
        [b'* METADATA "Work.Sub" (/private/comment "child")']
    c.ok(b"DELETE Work.Sub")
    c.ok(b"CREATE Work.Sub")
    assert c.ok(b"GETMETADATA Work.Sub /private/comment") == \
        [b'* METADATA "Work.Sub" (/private/comment NIL)']
    # RENAME INBOX moves its messages, not INBOX: its entries stay
    c.ok(b'SETMETADATA INBOX (/private/comment "inbox")')
    c.ok(b"RENAME INBOX Old")
    assert c.ok(b"GETMETADATA INBOX /private/comment") == \
        [b'* METADATA "INBOX" (/private/comment "inbox")']
    assert c.ok(b"GETMETADATA Old /private/comment") == \
        [b'* METADATA "Old" (/private/comment NIL)']
    c.close()
    # stored beside the index, owner-only
    st = os.stat(os.path.join(server.maildir(folder="Work"), "tern-metadata"))
    assert st.st_mode & 0o777 == 0o600
