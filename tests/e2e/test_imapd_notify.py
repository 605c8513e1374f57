"""tern-imapd NOTIFY (RFC 5465): the command's grammar and bounds, STATUS for
changes in other mailboxes, LIST for mailboxes made, renamed and deleted and
for subscriptions, and the selected mailbox's events as they happen (new
messages fetched with MessageNew's attributes, expunges at once).

Raw sockets against a real instance (mailctl init/start), a fresh user per
test; notifications are read as they arrive, with no command in between."""
import re

import pytest

from imap_harness import ImapInstance, Mailbox, RawImap

MSG = (b"From: a@example.org\r\nTo: b@example.test\r\nSubject: %s\r\n"
       b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nbody\r\n")


def msg(n):
    return MSG % (b"note%d" % n)


@pytest.fixture(scope="module")
def imap_instance():
    inst = ImapInstance()
    yield inst
    inst.close()


@pytest.fixture
def server(imap_instance):
    return Mailbox(imap_instance)


def wait_line(r, pattern):
    """Lines as they come until one matches pattern (a notification: no
    command was sent); the lines before it are returned too."""
    seen = []
    while True:
        line = r.line()
        seen.append(line)
        if re.search(pattern, line):
            return line, seen


def test_capability_and_grammar(server):
    r = RawImap(server)
    assert b"NOTIFY" in r.ok(b"CAPABILITY")[0].split()
    assert r.ok(b"NOTIFY NONE") == []
    bad = [b"NOTIFY", b"NOTIFY SET", b"NOTIFY SET (personal)", b"NOTIFY SET (nosuch (MessageNew))",
           b"NOTIFY SET (personal (Bogus))",
           # RFC 5465 5.1/5.2: MessageNew and MessageExpunge together for selected
           b"NOTIFY SET (selected (MessageNew))",
           b"NOTIFY SET (selected (FlagChange))",
           b"NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed NONE)",
           # fetch attributes only for the selected mailbox, and only valid ones
           b"NOTIFY SET (personal (MessageNew (UID) MessageExpunge))",
           b"NOTIFY SET (selected (MessageNew (NOSUCHATT) MessageExpunge))"]
    for c in bad:
        assert r.cmd(c)[-1].startswith(r.tag + b" BAD"), c
    line = r.cmd(b"NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))")[-1]
    assert line.startswith(r.tag + b" NO [BADEVENT ("), line
    assert b"MessageNew" in line and b"AnnotationChange" not in line
    many = b" ".join(b"M%d" % i for i in range(101))
    line = r.cmd(b"NOTIFY SET (mailboxes (" + many + b") (MessageNew MessageExpunge))")[-1]
    assert line.startswith(r.tag + b" NO [NOTIFICATIONOVERFLOW]"), line
    assert r.ok(b"NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange)) "
                b"(inboxes NONE) (subtree (Sent Trash) (MessageNew MessageExpunge))") == []
    r.close()


def test_set_status_reports_each_watched_mailbox(server):
    server.append(msg(1), folder="Sent")
    r = RawImap(server)
    lines = r.ok(b"NOTIFY SET STATUS (mailboxes (Sent Drafts) (MessageNew MessageExpunge FlagChange))")
    st = {l.split()[2]: l for l in lines if l.startswith(b"* STATUS")}
    assert set(st) == {b'"Sent"', b'"Drafts"'}, lines
    assert re.search(rb"MESSAGES 1 .*UIDVALIDITY \d+ .*HIGHESTMODSEQ \d+", st[b'"Sent"']), st
    # without STATUS: nothing now
    assert r.ok(b"NOTIFY SET (mailboxes Sent (MessageNew MessageExpunge))") == []
    r.close()


def test_status_when_another_mailbox_changes(server):
    r, other = RawImap(server), RawImap(server)
    r.ok(b"SELECT Drafts")
    r.ok(b"NOTIFY SET (personal (MessageNew MessageExpunge FlagChange))")
    server.deliver(msg(1))
    line, _ = wait_line(r, rb'^\* STATUS "INBOX" ')
    assert re.search(rb"MESSAGES 1\b", line) and re.search(rb"UIDNEXT 2\b", line), line
    assert re.search(rb"UNSEEN 1\b", line), line
    other.ok(b"SELECT INBOX")
    other.ok(b"STORE 1 +FLAGS (\\Seen)")
    line, _ = wait_line(r, rb'^\* STATUS "INBOX" ')
    assert re.search(rb"UNSEEN 0\b", line), line
    other.ok(b"STORE 1 +FLAGS (\\Deleted)")
    other.ok(b"EXPUNGE")
    line, _ = wait_line(r, rb'^\* STATUS "INBOX" .*MESSAGES 0\b')
    r.close()
    other.close()


def test_mailbox_name_and_subscription_changes(server):
    r, other = RawImap(server), RawImap(server)
    r.ok(b"NOTIFY SET (personal (MailboxName SubscriptionChange))")
    other.ok(b"CREATE Proj")
    line, _ = wait_line(r, rb"^\* LIST ")
    assert line.endswith(b' "." "Proj"'), line
    other.ok(b"RENAME Proj Proj2")
    line, _ = wait_line(r, rb"^\* LIST ")
    assert line == b'* LIST () "." "Proj2" ("OLDNAME" ("Proj"))', line
    other.ok(b"SUBSCRIBE Proj2")
    line, _ = wait_line(r, rb"^\* LIST ")
    assert line == b'* LIST (\\Subscribed) "." "Proj2"', line
    other.ok(b"UNSUBSCRIBE Proj2")
    line, _ = wait_line(r, rb"^\* LIST ")
    assert line == b'* LIST () "." "Proj2"', line
    other.ok(b"DELETE Proj2")
    line, _ = wait_line(r, rb"^\* LIST ")
    assert line == b'* LIST (\\NonExistent) "." "Proj2"', line
    r.close()
    other.close()


def test_selected_new_messages_fetched_and_expunges_at_once(server):
    server.append(msg(1))
    r, other = RawImap(server), RawImap(server)
    r.ok(b"ENABLE QRESYNC")
    r.ok(b"SELECT INBOX")
    r.ok(b"NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) "
         b"MessageExpunge FlagChange))")
    server.deliver(msg(2))
    line, seen = wait_line(r, rb"^\* 2 FETCH \(UID 2 BODY\[HEADER\.FIELDS \(Subject\)\] \{\d+\}")
    assert b"* 2 EXISTS" in seen, seen
    assert r.line() == b"Subject: note2" and r.line() == b""
    assert r.line() == b")"
    # another session's flag change and expunge arrive with no command
    other.ok(b"SELECT INBOX")
    other.ok(b"STORE 1 +FLAGS (\\Flagged)")
    line, _ = wait_line(r, rb"^\* 1 FETCH ")
    assert b"\\Flagged" in line and b"UID 1" in line, line
    other.ok(b"STORE 1 +FLAGS (\\Deleted)")
    other.ok(b"EXPUNGE")
    line, _ = wait_line(r, rb"^\* VANISHED ")
    assert line == b"* VANISHED 1", line
    assert r.ok(b"UID FETCH 1:* UID") == [b"* 1 FETCH (UID 2)"]
    r.close()
    other.close()


def test_idle_under_notify(server):
    """IDLE goes on working while NOTIFY holds the session's inotify instance."""
    r = RawImap(server)
    r.ok(b"SELECT INBOX")
    r.ok(b"NOTIFY SET (subtree Sent (MessageNew MessageExpunge))")
    r.send(b"i1 IDLE\r\n")
    assert r.line().startswith(b"+ ")
    server.deliver(msg(1))
    line, _ = wait_line(r, rb"^\* 1 EXISTS")
    server.append(msg(2), folder="Sent")
    line, _ = wait_line(r, rb'^\* STATUS "Sent" ')
    r.send(b"DONE\r\n")
    assert r.until_tag(b"i1")[-1].startswith(b"i1 OK")
    r.close()
