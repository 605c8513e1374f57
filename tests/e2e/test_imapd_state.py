"""tern-imapd: the mailbox state a session is shown and the untagged responses
that keep it in step (issue 18): \\Recent (RFC 3501 2.3.2), UIDVALIDITY of
created mailboxes, EXISTS after a MOVE into the selected mailbox, FLAGS and
PERMANENTFLAGS before a keyword is first shown, HIGHESTMODSEQ (RFC 7162).

Raw sockets against a real instance (mailctl init/start), one instance for the
module and a fresh user per test (see imap_harness.py)."""
import re

import pytest

from imap_harness import ImapInstance, Mailbox, RawImap

MSG = (b"From: a@example.org\r\nTo: b@example.test\r\nSubject: %s\r\n"
       b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nbody\r\n")


def msg(n):
    return MSG % (b"m%d" % n)


@pytest.fixture(scope="module")
def imap_instance():
    inst = ImapInstance()
    yield inst
    inst.close()


@pytest.fixture
def server(imap_instance):
    return Mailbox(imap_instance)


def untagged(lines, word):
    """The numbers of '* n WORD' lines."""
    return [int(l.split()[1]) for l in lines
            if len(l.split()) >= 3 and l.split()[2] == word.encode()]


def status(r, box, items):
    line = [l for l in r.ok(b"STATUS " + box + b" (" + items + b")") if l.startswith(b"* STATUS")]
    return dict(re.findall(r"([A-Z]+) (\d+)", line[0].decode().split("(", 1)[1]))


# ---- \Recent: exactly one session sees a message as recent ----

def test_appended_mail_is_recent_to_the_first_select_only(server):
    server.append(msg(1), msg(2))
    r1, r2 = RawImap(server), RawImap(server)
    # EXAMINE shows them as recent and leaves them so (RFC 3501 6.3.2)
    lines = r1.ok(b"EXAMINE INBOX")
    assert untagged(lines, "RECENT") == [2], lines
    r1.ok(b"CLOSE")
    assert status(r1, b"INBOX", b"MESSAGES RECENT")["RECENT"] == "2"
    # the first read-write SELECT takes them
    lines = r1.ok(b"SELECT INBOX")
    assert untagged(lines, "RECENT") == [2], lines
    assert r1.ok(b"FETCH 1 FLAGS") == [b"* 1 FETCH (FLAGS (\\Recent))"]
    assert r1.ok(b"SEARCH RECENT") == [b"* SEARCH 1 2"]
    assert r1.ok(b"SEARCH NEW") == [b"* SEARCH 1 2"]
    assert r1.ok(b"SEARCH OLD") == [b"* SEARCH"]
    # ... and nobody else sees them as recent
    lines = r2.ok(b"SELECT INBOX")
    assert untagged(lines, "RECENT") == [0], lines
    assert r2.ok(b"SEARCH RECENT") == [b"* SEARCH"]
    assert r2.ok(b"SEARCH OLD") == [b"* SEARCH 1 2"]
    assert status(r2, b"INBOX", b"RECENT")["RECENT"] == "0"
    r1.close()
    r2.close()


def test_copy_into_a_selected_mailbox_is_recent_there(server):
    server.append(msg(1), msg(2), msg(3))
    r1, r2 = RawImap(server), RawImap(server)
    r1.ok(b"CREATE Box2")
    r2.ok(b"SELECT Box2")
    r1.ok(b"SELECT INBOX")
    r1.ok(b"STORE 1 +FLAGS (\\Seen)")
    r1.ok(b"COPY 1:2 Box2")
    lines = r2.ok(b"NOOP")
    assert untagged(lines, "EXISTS") == [2] and untagged(lines, "RECENT") == [2], lines
    assert r2.ok(b"FETCH 1:2 FLAGS") == [b"* 1 FETCH (FLAGS (\\Seen \\Recent))",
                                        b"* 2 FETCH (FLAGS (\\Recent))"]
    # a second session selecting it afterwards: nothing recent
    r3 = RawImap(server)
    assert untagged(r3.ok(b"SELECT Box2"), "RECENT") == [0]
    for r in (r1, r2, r3):
        r.close()


def test_delivered_mail_recent_to_one_of_two_selected_sessions(server):
    r1, r2 = RawImap(server), RawImap(server)
    r1.ok(b"SELECT INBOX")
    r2.ok(b"SELECT INBOX")
    server.deliver(msg(1))
    a = r1.ok(b"NOOP")
    b = r2.ok(b"NOOP")
    assert untagged(a, "EXISTS") == [1] and untagged(b, "EXISTS") == [1], (a, b)
    assert sorted(untagged(a, "RECENT") + untagged(b, "RECENT")) == [0, 1], (a, b)
    r1.close()
    r2.close()


# ---- UIDVALIDITY: every mailbox its own, a re-created one a new one ----

def test_recreated_mailbox_gets_a_new_uidvalidity(server):
    r = RawImap(server)
    r.ok(b"CREATE Again")
    r.ok(b"APPEND Again {5+}\r\nhello")
    before = status(r, b"Again", b"UIDVALIDITY UIDNEXT")
    r.ok(b"DELETE Again")
    r.ok(b"CREATE Again")   # within the same second, usually
    r.ok(b"APPEND Again {5+}\r\nhello")
    after = status(r, b"Again", b"UIDVALIDITY UIDNEXT")
    assert after["UIDVALIDITY"] != before["UIDVALIDITY"], (before, after)
    r.close()


def test_every_folder_of_a_new_user_has_its_own_uidvalidity(server):
    r = RawImap(server)
    seen = {}
    for box in (b"INBOX", b"Sent", b"Trash", b"Drafts", b"Junk", b"Archive"):
        seen[box] = status(r, box, b"UIDVALIDITY")["UIDVALIDITY"]
    assert len(set(seen.values())) == len(seen), seen
    r.close()


# ---- MOVE into the selected mailbox: EXPUNGE of the old, EXISTS of the new ----

def test_move_into_the_selected_mailbox_reports_exists(server):
    server.append(msg(1), msg(2))
    r = RawImap(server)
    r.ok(b"SELECT INBOX")
    lines = r.ok(b"MOVE 1 INBOX")
    assert lines[0].startswith(b"* OK [COPYUID "), lines
    assert untagged(lines, "EXPUNGE") == [1] and untagged(lines, "EXISTS") == [2], lines
    assert r.ok(b"UID FETCH 1:* FLAGS") == [b"* 1 FETCH (UID 2 FLAGS (\\Recent))",
                                           b"* 2 FETCH (UID 3 FLAGS (\\Recent))"]
    # UID MOVE the same way, and a NOOP after it has nothing left to say
    lines = r.ok(b"UID MOVE 2 INBOX")
    assert untagged(lines, "EXPUNGE") == [1] and untagged(lines, "EXISTS") == [2], lines
    assert r.ok(b"NOOP") == []
    r.close()


# ---- HIGHESTMODSEQ (RFC 7162) ----

def highestmodseq(lines):
    found = [int(m) for l in lines for m in re.findall(rb"\[HIGHESTMODSEQ (\d+)\]", l)]
    return found[0] if found else None


def test_select_always_reports_highestmodseq(server):
    server.append(msg(1))
    r = RawImap(server)
    # CONDSTORE is advertised, so every SELECT/EXAMINE says it (3.1.2.1)
    assert highestmodseq(r.ok(b"SELECT INBOX")) is not None
    assert highestmodseq(r.ok(b"EXAMINE INBOX")) is not None
    r.close()


def test_condstore_enabling_command_reports_highestmodseq_once(server):
    server.append(msg(1), msg(2))
    r = RawImap(server)
    hm = highestmodseq(r.ok(b"SELECT INBOX"))
    # FETCH MODSEQ is a CONDSTORE-enabling command (3.1): the first one
    # reports the selected mailbox's HIGHESTMODSEQ, later ones do not
    lines = r.ok(b"FETCH 1 MODSEQ")
    assert highestmodseq(lines) == hm, lines
    assert highestmodseq(r.ok(b"FETCH 1 MODSEQ")) is None
    # and STORE replies carry the new MODSEQ from then on
    lines = r.ok(b"STORE 1 +FLAGS (\\Seen)")
    assert re.match(rb"\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) MODSEQ \((\d+)\)\)", lines[0]), lines
    r.close()


def test_esearch_modseq_of_min_and_max(server):
    server.append(msg(1), msg(2), msg(3), msg(4))
    r = RawImap(server)
    r.ok(b"ENABLE CONDSTORE")
    r.ok(b"SELECT INBOX")
    mod = {}
    for n in (1, 3, 2, 4):   # so MODSEQ does not grow with the sequence number
        line = r.ok(b"STORE %d +FLAGS (\\Seen)" % n)[-1]
        mod[n] = int(re.search(rb"MODSEQ \((\d+)\)", line).group(1))

    def esearch(ret, rng=b"1:3"):
        line = r.ok(b"SEARCH RETURN (" + ret + b") " + rng + b" MODSEQ 1")[0]
        return int(re.search(rb" MODSEQ (\d+)", line).group(1))
    # the highest MODSEQ of the messages returned: MIN and MAX return one each
    assert esearch(b"MIN") == mod[1]
    assert esearch(b"MAX") == mod[3]
    assert esearch(b"MIN MAX", b"2:3") == max(mod[2], mod[3])
    assert esearch(b"ALL") == max(mod[1], mod[2], mod[3])
    r.close()


# ---- FLAGS and PERMANENTFLAGS name every keyword before a FETCH shows it ----

def flags_line(lines):
    return [l for l in lines if l.startswith(b"* FLAGS ")]


def test_select_names_the_folders_keywords(server):
    server.append(msg(1), flags="($Work Later)")
    r = RawImap(server)
    lines = r.ok(b"SELECT INBOX")
    assert flags_line(lines) == [b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work Later)"], lines
    assert b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work Later \\*)]" \
        b" Flags permitted" in lines, lines
    lines = r.ok(b"EXAMINE INBOX")
    assert flags_line(lines)[0].endswith(b" $Work Later)") and b"* OK [PERMANENTFLAGS ()]" \
        b" Flags permitted" in lines, lines
    r.close()


def test_new_keyword_announced_before_its_fetch(server):
    server.append(msg(1), msg(2))
    a, b = RawImap(server), RawImap(server)
    a.ok(b"SELECT INBOX")
    b.ok(b"SELECT INBOX")
    # the session's own STORE: FLAGS and PERMANENTFLAGS come first
    lines = a.ok(b"STORE 1 +FLAGS (Urgent)")
    assert lines[0] == b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Urgent)", lines
    assert lines[1].startswith(b"* OK [PERMANENTFLAGS (") and b" Urgent \\*)]" in lines[1], lines
    assert lines[2].startswith(b"* 1 FETCH (FLAGS (\\Recent Urgent)"), lines
    # another session learns it the same way, at its next command
    lines = b.ok(b"NOOP")
    assert lines[0].endswith(b" Urgent)") and lines[0].startswith(b"* FLAGS"), lines
    assert lines[1].startswith(b"* OK [PERMANENTFLAGS (") and lines[2].startswith(b"* 1 FETCH"), lines
    # a keyword already named is not announced again
    lines = a.ok(b"STORE 2 +FLAGS (Urgent)")
    assert not flags_line(lines), lines
    assert b.ok(b"NOOP") == [b"* 2 FETCH (FLAGS (Urgent) UID 2)"]
    # nor is one that differs only in case (keywords ignore case)
    assert not flags_line(a.ok(b"STORE 1 +FLAGS (urgent)"))
    a.close()
    b.close()


# ---- messages another session expunged, before this one was told ----

def test_fetch_and_store_of_messages_expunged_elsewhere(server):
    server.append(msg(1), msg(2), msg(3))
    a, b = RawImap(server), RawImap(server)
    a.ok(b"SELECT INBOX")
    b.ok(b"SELECT INBOX")
    b.ok(b"STORE 2 +FLAGS (\\Deleted)")
    b.ok(b"EXPUNGE")
    # no EXPUNGE may be sent during a FETCH: the others are answered, and
    # the command succeeds saying some were gone (as Dovecot does)
    lines = a.cmd(b"FETCH 1:3 (UID)")
    assert lines[-1] == a.tag + b" OK [EXPUNGEISSUED] Some messages were already expunged", lines
    assert [l for l in lines if b"FETCH" in l] == [b"* 1 FETCH (UID 1)", b"* 3 FETCH (UID 3)"], lines
    lines = a.cmd(b"STORE 2:3 +FLAGS (\\Seen)")
    assert lines[-1].startswith(a.tag + b" OK [EXPUNGEISSUED]"), lines
    lines = a.ok(b"NOOP")
    assert untagged(lines, "EXPUNGE") == [2], lines
    assert a.ok(b"FETCH 2 (UID FLAGS)") == [b"* 2 FETCH (UID 3 FLAGS (\\Seen \\Recent))"]
    a.close()
    b.close()


def test_a_store_adds_to_flags_another_session_set_meanwhile(server):
    """+FLAGS and -FLAGS start from the message's flags at the time of the
    STORE, not from what this session last saw: b's view is stale (it has
    not heard of a's \\Flagged and $Work) when it adds \\Seen."""
    server.append(msg(1))
    a, b = RawImap(server), RawImap(server)
    a.ok(b"SELECT INBOX")
    b.ok(b"SELECT INBOX")
    a.ok(b"STORE 1 +FLAGS.SILENT (\\Flagged $Work)")
    lines = b.ok(b"STORE 1 +FLAGS (\\Seen)")
    assert b"* 1 FETCH (FLAGS (\\Seen \\Flagged $Work))" in lines, lines
    b.ok(b"STORE 1 -FLAGS.SILENT ($Work)")
    # a hears of b's changes first (unsolicited), then gets its answer;
    # the message is \\Recent to a, which selected first
    lines = a.ok(b"FETCH 1 FLAGS")
    assert lines[-1] == b"* 1 FETCH (FLAGS (\\Seen \\Flagged \\Recent))", lines
    a.close()
    b.close()
