"""Parked IDLE sessions (docs/ARCHITECTURE.md, "Idle sessions: the holder"):
after idle_park_after a session in IDLE hands its connection to the holder
(`tern-imapd --idle`) and its process ends; input or a change to the folder
brings it back in a new session process that says what the old one would
have said. One instance serves the module, with idle_park_after = 1s."""
import os
import signal
import socket

import pytest

from conftest import IS_ROOT, wait_for
from conftest import proc_gone as gone
from imap_harness import ImapInstance, Mailbox, RawImap, idle_wait

MSG = (b"From: one@example.org\r\nTo: x@example.test\r\nSubject: park %d\r\n"
       b"Message-ID: <park%d@example.org>\r\n\r\nbody\r\n")


@pytest.fixture(scope="module")
def inst():
    i = ImapInstance(imapd_conf={"idle_park_after": "1s", "max_sessions_per_user": "200"})
    yield i
    i.close()


@pytest.fixture
def box(inst):
    return Mailbox(inst)


def pids(inst, name):
    out = []
    for line in inst.ctl("status").stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == name and parts[1].isdigit():
            out.append(int(parts[1]))
    return out


def parks(box):
    return box.log_text().count(f"imap parked: user={box.user} ")


def resumes(box):
    return box.log_text().count(f"imap session resumed: user={box.user} ")


def wait_parked(box, n):
    """The user's sessions have parked n times (the session process logs it
    as it ends)."""
    assert wait_for(lambda: parks(box) >= n, timeout=15), box.log_text()[-3000:]


def idle(box, n_msgs, enable=None):
    r = RawImap(box)
    if enable:
        r.ok(b"ENABLE " + enable)
    assert b"* %d EXISTS" % n_msgs in r.ok(b"SELECT INBOX")
    r.send(b"i1 IDLE\r\n")
    assert r.line().startswith(b"+ ")
    return r


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_parked_session_reports_delivery_flags_and_expunge(box):
    box.deliver(MSG % (1, 1), MSG % (2, 2))
    r = idle(box, 2, enable=b"CONDSTORE")
    wait_parked(box, 1)
    box.deliver(MSG % (3, 3))
    idle_wait(r, lambda l: l == b"* 3 EXISTS")
    # the holder wrote it and the session stays parked; another session
    # changes flags
    other = RawImap(box)
    other.ok(b"SELECT INBOX")
    other.ok(b"STORE 1 +FLAGS (\\Flagged)")
    got = idle_wait(r, lambda l: l.startswith(b"* 1 FETCH"))
    assert b"\\Flagged" in got[-1] and b"MODSEQ" in got[-1], got
    other.ok(b"STORE 2 +FLAGS (\\Deleted)")
    other.ok(b"EXPUNGE")
    other.close()
    idle_wait(r, lambda l: l == b"* 2 EXPUNGE")
    # told without a session process: nothing was resumed
    assert resumes(box) == 0 and parks(box) == 1, box.log_text()[-3000:]
    r.send(b"DONE\r\n")
    assert r.until_tag(b"i1")[-1].startswith(b"i1 OK")
    # the selection and the flags are what the client was told
    lines = r.ok(b"FETCH 1:* (UID FLAGS)")
    assert len(lines) == 2 and b"\\Flagged" in lines[0] and b"\\Flagged" not in lines[1], lines
    r.close()


def test_one_update_tells_every_parked_session(box):
    """50 sessions of one user parked on INBOX: a delivery, a flag change and
    an expunge reach every client from the holder, computed once per state
    the sessions share (not one resume each), and each session then answers
    as its client was told."""
    box.deliver(MSG % (1, 1), MSG % (2, 2))
    clients = [idle(box, 2) for _ in range(50)]
    wait_parked(box, 50)
    box.deliver(MSG % (3, 3))
    for r in clients:
        idle_wait(r, lambda l: l == b"* 3 EXISTS")
    other = RawImap(box)
    other.ok(b"SELECT INBOX")
    other.ok(b"STORE 1 +FLAGS (\\Flagged)")
    for r in clients:
        got = idle_wait(r, lambda l: l.startswith(b"* 1 FETCH"))
        assert b"\\Flagged" in got[-1], got
    other.ok(b"STORE 2 +FLAGS.SILENT (\\Deleted)")
    other.ok(b"EXPUNGE")
    other.close()
    for r in clients:
        idle_wait(r, lambda l: l == b"* 2 EXPUNGE")
    assert resumes(box) == 0 and parks(box) == 50, box.log_text()[-3000:]
    # the new message is \Recent to one session at most (RFC 3501 2.3.2)
    recent = 0
    for r in clients:
        r.send(b"DONE\r\n")
        assert r.until_tag(b"i1")[-1].startswith(b"i1 OK")
        lines = r.ok(b"FETCH 1:* (UID FLAGS)")
        assert len(lines) == 2, lines
        assert b"UID 1 " in lines[0] and b"\\Flagged" in lines[0], lines
        assert b"UID 3 " in lines[1] and b"\\Flagged" not in lines[1], lines
        recent += b"\\Recent" in lines[1]
        r.close()
    assert recent <= 1


def test_done_and_any_command_resume(box):
    box.deliver(MSG % (1, 1))
    r = idle(box, 1)
    wait_parked(box, 1)
    r.send(b"DONE\r\n")
    assert r.until_tag(b"i1")[-1].startswith(b"i1 OK")
    assert b"* 1 EXISTS" in r.ok(b"SELECT INBOX")
    r.send(b"i2 IDLE\r\n")
    assert r.line().startswith(b"+ ")
    wait_parked(box, 2)
    r.send(b"x1 NOOP\r\n")  # not DONE: IDLE ends with BAD, as in a session process
    assert r.until_tag(b"i2")[-1].startswith(b"i2 BAD")
    assert r.ok(b"NOOP") == []
    r.close()


def test_recent_survives_parking(box):
    box.deliver(MSG % (1, 1))
    r = idle(box, 1)    # the SELECT took message 1 as \Recent to this session
    wait_parked(box, 1)
    box.deliver(MSG % (2, 2))
    idle_wait(r, lambda l: l == b"* 2 EXISTS")
    r.send(b"DONE\r\n")
    assert r.until_tag(b"i1")[-1].startswith(b"i1 OK")
    lines = r.ok(b"FETCH 1:* (FLAGS)")
    assert len(lines) == 2 and all(b"\\Recent" in l for l in lines), lines
    # and no other session is told of them as recent
    other = RawImap(box)
    assert b"* 0 RECENT" in other.ok(b"SELECT INBOX")
    other.close()
    r.close()


def test_messages_while_parked_keep_sequence_numbers(box):
    box.deliver(*[MSG % (i, i) for i in range(1, 5)])
    r = idle(box, 4)
    wait_parked(box, 1)
    other = RawImap(box)
    other.ok(b"SELECT INBOX")
    # two expunges before the parked client hears of either: the resumed
    # session numbers them as the client knows the folder
    other.ok(b"STORE 2,3 +FLAGS.SILENT (\\Deleted)")
    other.ok(b"EXPUNGE")
    other.close()
    seen = []
    idle_wait(r, lambda l: seen.append(l) or sum(x.endswith(b"EXPUNGE") for x in seen) == 2)
    assert [x for x in seen if x.endswith(b"EXPUNGE")] == [b"* 3 EXPUNGE", b"* 2 EXPUNGE"], seen
    r.send(b"DONE\r\n")
    r.until_tag(b"i1")
    lines = r.ok(b"FETCH 1:* (UID)")
    assert len(lines) == 2 and b"UID 1)" in lines[0] and b"UID 4)" in lines[1], lines
    r.close()


def test_vanishing_client_frees_everything(box, inst):
    holder = pids(inst, "imapd-idle")[0]
    before = fd_count(holder)
    r = idle(box, 0)
    wait_parked(box, 1)
    assert wait_for(lambda: fd_count(holder) > before, timeout=5)
    r.s.close()
    # the holder closes the connection and lets go of the folder's directories
    assert wait_for(lambda: fd_count(holder) == before, timeout=10), (before, fd_count(holder))


def test_holder_killed_ends_connections_and_restarts(box, inst):
    old = pids(inst, "imapd-idle")[0]
    r = idle(box, 0)
    wait_parked(box, 1)
    os.kill(old, signal.SIGKILL)
    r.s.settimeout(10)
    with pytest.raises((EOFError, ConnectionError, OSError)):
        while True:
            r.line()
    assert wait_for(lambda: pids(inst, "imapd-idle") and pids(inst, "imapd-idle")[0] != old,
                    timeout=20)
    # a new session parks with the new holder and is woken by a delivery
    r2 = idle(box, 0)
    wait_parked(box, 2)
    box.deliver(MSG % (1, 1))
    idle_wait(r2, lambda l: l == b"* 1 EXISTS")
    r2.send(b"DONE\r\n")
    assert r2.until_tag(b"i1")[-1].startswith(b"i1 OK")
    r2.close()


def test_a_holder_that_does_not_read_leaves_sessions_in_their_processes(box, inst):
    """A stopped holder takes no park: the parks fill the mail role's socket
    to it, the mail role stops waiting after a bound (it serves every login
    from one loop) and keeps the session in a process, which still reports
    a delivery; sessions parked before it stopped survive once it goes on."""
    holder = pids(inst, "imapd-idle")[0]
    stalled = "the idle holder took no park"
    conns = []
    os.kill(holder, signal.SIGSTOP)
    try:
        while stalled not in box.log_text():
            assert len(conns) < 120, "parks never filled the socket to the holder"
            conns += [idle(box, 0) for _ in range(12)]
            wait_for(lambda: parks(box) >= len(conns) or stalled in box.log_text(), timeout=30)
        # every session parked: into the socket, or refused and run again
        assert wait_for(lambda: parks(box) >= len(conns), timeout=30)
        unheld = f"imap session resumed: user={box.user} client=127.0.0.1 why=4"
        assert unheld in box.log_text(), box.log_text()[-3000:]
        # a new session while the holder is paused: not parked, still told
        n = box.log_text().count(unheld)
        r = idle(box, 0)
        assert wait_for(lambda: box.log_text().count(unheld) == n + 1, timeout=15)
        box.deliver(MSG % (1, 1))
        idle_wait(r, lambda l: l == b"* 1 EXISTS")
        r.send(b"DONE\r\n")
        assert r.until_tag(b"i1")[-1].startswith(b"i1 OK")
        r.close()
    finally:
        os.kill(holder, signal.SIGCONT)
    # the holder reads what waited: the first parked session wakes on the
    # delivery made while it was stopped
    try:
        idle_wait(conns[0], lambda l: l == b"* 1 EXISTS", timeout=20)
    except (EOFError, AssertionError, OSError) as e:
        raise AssertionError(f"{e!r}\n{box.log_text()[-4000:]}")
    # hang up: a LOGOUT sent in IDLE is no command (the session answers the
    # IDLE, never the LOGOUT's tag), so close() would wait out its 10 s
    # socket timeout on each of the 24-36 clients (6 min of CI per build)
    for c in conns:
        c.s.close()


@pytest.mark.skipif(not IS_ROOT, reason="accounts and chroot need root")
def test_holder_has_no_mailbox_access(box, inst):
    box.deliver(MSG % (1, 1))
    holder = pids(inst, "imapd-idle")[0]
    status = open(f"/proc/{holder}/status").read()
    assert "Seccomp:\t2" in status and "NoNewPrivs:\t1" in status
    import pwd
    uid = pwd.getpwnam("tern-imapd").pw_uid
    assert f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}" in status
    # chrooted where there is no Maildir at all
    assert os.readlink(f"/proc/{holder}/root") == os.path.join(inst.dir, "run")
    # and the mail store's files are not the holder's to open
    new = os.path.join(box.maildir(), "new")
    for f in os.listdir(new):
        st = os.stat(os.path.join(new, f))
        assert st.st_uid != uid and st.st_mode & 0o077 == 0
