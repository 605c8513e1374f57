"""tern-imapd CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 4): a SEARCH or SORT
with RETURN (UPDATE) keeps telling the client how its result changes, as
ESEARCH ADDTO/REMOVEFROM responses tagged with the command's tag, until
CANCELUPDATE or the end of the selection. Each behaviour that imaptest's
groups search-context-update{,2,3} check is named here on its own, with the
limits (contexts per session, tags per CANCELUPDATE).

Raw sockets against a real instance (one for the module, a fresh user per
test); a second session of the same user makes the changes "others" make."""
import re

import pytest

from imap_harness import ImapInstance, Mailbox, RawImap

MAX_UPDATES = 10    # imapd/search_update.h SEARCH_MAX_UPDATES


@pytest.fixture(scope="module")
def imap_instance():
    inst = ImapInstance()
    yield inst
    inst.close()


@pytest.fixture
def server(imap_instance):
    return Mailbox(imap_instance)


def append(r, subject, size=0, flags=b""):
    data = ("Subject: %s\r\nX-Pad: %s\r\n\r\nbody\r\n" % (subject, "x" * size)).encode()
    r.send(b"ap APPEND INBOX (%s) {%d}\r\n" % (flags, len(data)))
    assert r.line().startswith(b"+")
    r.send(data + b"\r\n")
    assert r.until_tag(b"ap")[-1].startswith(b"ap OK")


def session(server, sizes):
    """A session with one message per size appended and INBOX selected."""
    r = RawImap(server)
    for i, n in enumerate(sizes):
        append(r, "s%d" % i, n)
    r.ok(b"SELECT INBOX")
    return r


def other(server):
    o = RawImap(server)
    o.ok(b"SELECT INBOX")
    return o


def updates(lines, tag):
    """The data of the ESEARCH responses tagged tag, in order."""
    head = b'* ESEARCH (TAG "%s")' % tag
    return [l[len(head):].decode().strip() for l in lines if l.startswith(head)]


def test_search_update_reports_flag_changes(server):
    r = session(server, [0] * 5)
    caps = b"".join(r.ok(b"CAPABILITY")).split()
    assert b"CONTEXT=SEARCH" in caps and b"CONTEXT=SORT" in caps
    # UPDATE alone: an empty ESEARCH now, updates later
    lines = r.ok(b"SEARCH RETURN (UPDATE) SEEN")
    ctx = r.tag
    assert updates(lines, ctx) == [""]
    # context position 0: SEARCH results are in mailbox order (4.3.3)
    assert updates(r.ok(b"STORE 1,2,4 +FLAGS (\\Seen)"), ctx) == ["ADDTO (0 1:2,4)"]
    assert updates(r.ok(b"STORE 1,2 -FLAGS (\\Seen)"), ctx) == ["REMOVEFROM (0 1:2)"]
    # a change that leaves the result as it is says nothing
    assert updates(r.ok(b"STORE 4 +FLAGS (\\Flagged)"), ctx) == []
    # .SILENT silences the FETCH, not the context
    lines = r.ok(b"STORE 5 +FLAGS.SILENT (\\Seen)")
    assert updates(lines, ctx) == ["ADDTO (0 5)"] and not any(b"FETCH" in l for l in lines)
    # with other data: the initial result, then updates
    lines = r.ok(b"SEARCH RETURN (UPDATE COUNT ALL) SEEN")
    assert updates(lines, r.tag) == ["ALL 4:5 COUNT 2"]
    r.close()


def test_removefrom_names_expunged_messages_before_the_expunge(server):
    r = session(server, [0] * 5)
    lines = r.ok(b"SEARCH RETURN (UPDATE) UNSEEN")
    ctx = r.tag
    o = other(server)
    o.ok(b"STORE 2,4 +FLAGS (\\Deleted)")
    o.ok(b"EXPUNGE")
    lines = r.ok(b"NOOP")
    # the numbers they had, in the response before the EXPUNGEs (4.3.4)
    assert updates(lines, ctx) == ["REMOVEFROM (0 2,4)"], lines
    first_expunge = min(i for i, l in enumerate(lines) if l.endswith(b" EXPUNGE"))
    assert lines.index(b'* ESEARCH (TAG "%s") REMOVEFROM (0 2,4)' % ctx) < first_expunge
    # the session's own EXPUNGE too
    r.ok(b"STORE 3 +FLAGS (\\Deleted)")
    lines = r.ok(b"EXPUNGE")
    assert lines == [b'* ESEARCH (TAG "%s") REMOVEFROM (0 3)' % ctx, b"* 3 EXPUNGE"], lines
    o.close()
    r.close()


def test_uid_context_learns_of_new_messages(server):
    r = session(server, [0, 0])
    r.ok(b"STORE 1:2 +FLAGS (\\Seen)")
    lines = r.ok(b"UID SEARCH RETURN (UPDATE ALL) UNSEEN")
    ctx = r.tag
    assert updates(lines, ctx) == ["UID"]
    o = other(server)
    append(o, "new")
    lines = r.ok(b"NOOP")
    assert b"* 3 EXISTS" in lines
    uid = int(re.search(rb"UID (\d+)", b"".join(r.ok(b"FETCH 3 (UID)"))).group(1))
    assert updates(lines, ctx) == ["UID ADDTO (0 %d)" % uid]
    # and of other sessions' flag changes
    uid1 = int(re.search(rb"UID (\d+)", b"".join(r.ok(b"FETCH 1 (UID)"))).group(1))
    o.ok(b"STORE 1 -FLAGS (\\Seen)")
    assert updates(r.ok(b"NOOP"), ctx) == ["UID ADDTO (0 %d)" % uid1]
    o.close()
    r.close()


def test_sort_update_gives_positions_in_sort_order(server):
    r = session(server, [30, 10, 50, 20, 40])
    lines = r.ok(b"SORT RETURN (UPDATE ALL) (SIZE) US-ASCII UNSEEN")
    ctx = r.tag
    assert updates(lines, ctx) == ["ALL 2,4,1,5,3"]
    # one position and message per pair, each pair applied in turn:
    # 2 leaves position 1 ([4,1,5,3]), then 3 position 4 ([4,1,5])
    assert updates(r.ok(b"STORE 2,3 +FLAGS (\\Seen)"), ctx) == ["REMOVEFROM (1 2 4 3)"]
    o = other(server)
    append(o, "mid", 25)     # between 4 (20) and 1 (30)
    lines = r.ok(b"NOOP")
    assert b"* 6 EXISTS" in lines and updates(lines, ctx) == ["ADDTO (2 6)"]
    assert updates(r.ok(b"STORE 2 -FLAGS (\\Seen)"), ctx) == ["ADDTO (1 2)"]   # [2,4,6,1,5]
    o.ok(b"STORE 1 +FLAGS (\\Deleted)")
    o.ok(b"EXPUNGE")
    assert updates(r.ok(b"NOOP"), ctx) == ["REMOVEFROM (4 1)"]
    # ESORT's other options with UPDATE, and UID SORT
    lines = r.ok(b"UID SORT RETURN (UPDATE MIN) (REVERSE SIZE) US-ASCII ALL")
    assert len(updates(lines, r.tag)) == 1 and updates(lines, r.tag)[0].startswith("UID MIN ")
    o.close()
    r.close()


def test_message_numbers_of_a_context_are_those_of_its_command(server):
    r = session(server, [0] * 4)
    lines = r.ok(b"SEARCH RETURN (UPDATE) 3:4 FLAGGED")
    ctx = r.tag
    r.ok(b"STORE 1 +FLAGS (\\Deleted)")
    assert updates(r.ok(b"EXPUNGE"), ctx) == []
    # old 3 is message 2 now and still in the context's set; old 2 (now 1) is not
    assert updates(r.ok(b"STORE 2 +FLAGS (\\Flagged)"), ctx) == ["ADDTO (0 2)"]
    assert updates(r.ok(b"STORE 1 +FLAGS (\\Flagged)"), ctx) == []
    r.close()


def test_cancelupdate(server):
    r = session(server, [0] * 3)
    r.ok(b"SEARCH RETURN (UPDATE) SEEN")
    a = r.tag
    r.ok(b"SEARCH RETURN (UPDATE) FLAGGED")
    b = r.tag
    # one unknown tag: nothing is cancelled
    lines = r.cmd(b'CANCELUPDATE "%s" "nosuch"' % a)
    assert lines[-1].startswith(r.tag + b" NO"), lines
    assert updates(r.ok(b"STORE 1 +FLAGS (\\Seen)"), a) == ["ADDTO (0 1)"]
    r.ok(b'CANCELUPDATE "%s"' % a)
    assert updates(r.ok(b"STORE 2 +FLAGS (\\Seen \\Flagged)"), a) == []
    assert updates(r.ok(b"STORE 3 +FLAGS (\\Flagged)"), b) == ["ADDTO (0 3)"]
    assert r.cmd(b'CANCELUPDATE "%s"' % a)[-1].startswith(r.tag + b" NO")
    for bad in (b"CANCELUPDATE", b"CANCELUPDATE " + b, b'CANCELUPDATE "%s" ' % b,
                b'CANCELUPDATE ("%s")' % b,
                b"CANCELUPDATE" + b' "x"' * (MAX_UPDATES + 1)):
        assert r.cmd(bad)[-1].startswith(r.tag + b" BAD"), bad
    r.ok(b'CANCELUPDATE "%s" "%s"' % (b, b))   # named twice is still one context
    assert updates(r.ok(b"STORE 1:3 -FLAGS (\\Flagged)"), b) == []
    r.close()


def test_a_tag_names_one_context(server):
    r = session(server, [0])
    r.send(b"ctx SEARCH RETURN (UPDATE) SEEN\r\n")
    assert r.until_tag(b"ctx")[-1].startswith(b"ctx OK")
    r.send(b"ctx SORT RETURN (UPDATE) (SIZE) US-ASCII ALL\r\n")
    assert r.until_tag(b"ctx")[-1].startswith(b"ctx BAD")
    # a tag without a context may be reused freely
    r.send(b"ctx SEARCH ALL\r\n")
    assert r.until_tag(b"ctx")[-1].startswith(b"ctx OK")
    assert updates(r.ok(b"STORE 1 +FLAGS (\\Seen)"), b"ctx") == ["ADDTO (0 1)"]
    r.close()


def test_contexts_per_session_are_bounded(server):
    r = session(server, [0, 0])
    tags = []
    for _ in range(MAX_UPDATES):
        r.ok(b"SEARCH RETURN (UPDATE) SEEN")
        tags.append(r.tag)
    # one more: still answered, with an untagged NO [NOUPDATE tag] (4.3.1)
    lines = r.ok(b"SEARCH RETURN (COUNT UPDATE) SEEN")
    assert updates(lines, r.tag) == ["COUNT 0"]
    assert b'* NO [NOUPDATE "%s"]' % r.tag in b"\n".join(lines), lines
    refused = r.tag
    lines = r.ok(b"STORE 1 +FLAGS (\\Seen)")
    assert all(updates(lines, t) == ["ADDTO (0 1)"] for t in tags)
    assert updates(lines, refused) == []
    # a cancelled context makes room
    r.ok(b'CANCELUPDATE "%s"' % tags[0])
    lines = r.ok(b"SORT RETURN (UPDATE) (ARRIVAL) US-ASCII SEEN")
    assert not any(b"NOUPDATE" in l for l in lines)
    r.close()


def test_contexts_end_with_the_selection(server):
    r = session(server, [0, 0])
    r.ok(b"SEARCH RETURN (UPDATE) SEEN")
    ctx = r.tag
    r.ok(b"UNSELECT")
    r.ok(b"SELECT INBOX")
    assert updates(r.ok(b"STORE 1 +FLAGS (\\Seen)"), ctx) == []
    assert r.cmd(b'CANCELUPDATE "%s"' % ctx)[-1].startswith(r.tag + b" NO")
    # and a new selection has its full number of contexts
    for _ in range(MAX_UPDATES):
        assert not any(b"NOUPDATE" in l for l in r.ok(b"SEARCH RETURN (UPDATE) ALL"))
    r.close()
