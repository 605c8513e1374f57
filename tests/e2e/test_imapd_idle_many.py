"""IDLE and NOTIFY at any number of sessions (issue 17): every session
process of a server runs as the mail store account, and Linux gives a uid a
fixed number of inotify instances (fs.inotify.max_user_instances, 128 by
default), so past that many watching sessions on the whole server a session
gets no inotify and, before, an IDLE client was never told of a change until
its next command, and NOTIFY SET was refused ([NOTIFICATIONOVERFLOW]).

The instance runs in a user namespace of its own (userns.py) whose per-uid
limit is 4, so a dozen sessions are enough and the machine's limit, shared by
everything else running, is left alone."""
import os
import re
import sys

import pytest

from imap_harness import ImapInstance, Mailbox, RawImap

LIMIT = 4
SESSIONS = 3 * LIMIT
USERNS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "userns.py")
MSG = b"From: a@example.org\r\nTo: b@example.test\r\nSubject: push\r\n\r\nnew mail\r\n"


@pytest.fixture(scope="module")
def imap_instance():
    if os.geteuid() != 0:
        pytest.skip("a user namespace with identity maps needs root")
    inst = ImapInstance({"max_sessions_per_user": str(SESSIONS + 4)},
                        prefix=(sys.executable, USERNS, str(LIMIT)))
    yield inst
    inst.close()


def idle_until(r, pred, timeout=10):
    """Untagged lines during IDLE until pred(line) (bounded by the socket timeout)."""
    r.s.settimeout(timeout)
    while not pred(r.line()):
        pass


def test_every_idle_session_past_the_inotify_limit_sees_a_delivery(imap_instance):
    srv = Mailbox(imap_instance)
    sessions = []
    for _ in range(SESSIONS):
        r = RawImap(srv)
        r.ok(b"SELECT INBOX")
        r.send(b"i1 IDLE\r\n")
        assert r.line().startswith(b"+ ")
        sessions.append(r)
    srv.deliver(MSG)
    for r in sessions:
        idle_until(r, lambda l: l == b"* 1 EXISTS")
    # and a flag change by another session, seen by every one of them
    other = RawImap(srv)
    other.ok(b"SELECT INBOX")
    other.ok(b"STORE 1 +FLAGS (\\Flagged)")
    for r in sessions:
        idle_until(r, lambda l: l.startswith(b"* 1 FETCH (FLAGS (") and b"\\Flagged" in l)
    other.close()
    for r in sessions:
        r.send(b"DONE\r\n")
        assert r.until_tag(b"i1")[-1].startswith(b"i1 OK")
        r.close()
    assert "polling" in imap_instance.inst.log_text()


def until(r, pattern, timeout=10):
    """Unsolicited lines until one matches pattern; that line."""
    r.s.settimeout(timeout)
    while True:
        line = r.line()
        if re.search(pattern, line):
            return line


def test_every_notify_session_past_the_inotify_limit_is_told(imap_instance):
    srv = Mailbox(imap_instance)
    other = RawImap(srv)
    other.ok(b"CREATE Proj")
    sessions = []
    for _ in range(SESSIONS):
        r = RawImap(srv)
        r.ok(b"SELECT INBOX")
        assert r.ok(b"NOTIFY SET (selected (MessageNew (UID) MessageExpunge)) "
                    b"(mailboxes Proj (MessageNew MessageExpunge)) "
                    b"(personal (MailboxName SubscriptionChange))") == []
        sessions.append(r)
    srv.deliver(MSG)
    for r in sessions:
        until(r, rb"^\* 1 FETCH \(UID 1\)")
    srv.append(MSG, folder="Proj")
    for r in sessions:
        line = until(r, rb'^\* STATUS "Proj" ')
        assert re.search(rb"MESSAGES 1\b", line), line
    other.ok(b"RENAME Proj Plans")
    for r in sessions:
        line = until(r, rb"^\* LIST ")
        assert line == b'* LIST () "." "Plans" ("OLDNAME" ("Proj"))', line
    other.ok(b"SUBSCRIBE Plans")
    for r in sessions:
        assert until(r, rb"^\* LIST ") == b'* LIST (\\Subscribed) "." "Plans"'
    other.close()
    for r in sessions:
        assert r.ok(b"NOOP") is not None
        r.close()
    assert "NOTIFY: inotify" in imap_instance.inst.log_text()
