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
