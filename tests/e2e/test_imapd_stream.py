"""tern-imapd on a whole instance (mailctl init/start, the real authd):
messages streamed through APPEND and FETCH without being held in memory,
keywords kept in Maildir file names as Dovecot keeps them, and changes by
other Maildir tools seen right after this session's own changes."""
import imaplib
import os
import re
import ssl
import time

import pytest

from conftest import IS_ROOT

ALICE, ALICE_PW = "alice@example.test", "Alice-pw-1234"


def connect(inst, compress=False):
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=120)
    ctx = ssl.create_default_context(cafile=inst.cert())
    ctx.check_hostname = False
    c.starttls(ssl_context=ctx)
    assert c.login(ALICE, ALICE_PW)[0] == "OK"
    return c


@pytest.fixture
def inst(instance):
    instance.add_user(ALICE, ALICE_PW)
    return instance


def cur_names(inst, folder=""):
    d = os.path.join(inst.maildir(ALICE), folder, "cur")
    return sorted(os.listdir(d))


def flags_of(data):
    """{uid: set of flags} from FETCH (UID FLAGS) responses."""
    out = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        m = re.search(rb"UID (\d+)", line)
        f = re.search(rb"FLAGS \(([^)]*)\)", line)
        if m and f:
            out[int(m.group(1))] = set(f.group(1).decode().split())
    return out


MSG = (b"From: a@example.org\r\nTo: alice@example.test\r\nSubject: kw\r\n\r\nbody\r\n")


def test_keywords_in_file_names_survive_index_rebuild(inst):
    """Keywords become Dovecot's lowercase letters after the flags, with the
    folder's dovecot-keywords naming them; a rebuilt index recovers them."""
    c = connect(inst)
    assert c.append("INBOX", "(\\Seen $Work Later)", None, MSG)[0] == "OK"
    assert c.append("INBOX", None, None, MSG)[0] == "OK"
    c.select("INBOX")
    assert c.uid("STORE", "2", "+FLAGS", "(Urgent $work)")[0] == "OK"
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS)")
    before = flags_of(data)
    uv_before = c.response("UIDVALIDITY")
    c.logout()
    names = cur_names(inst)
    assert sorted(n.split(":2,")[1] for n in names) == ["Sab", "ac"], names
    with open(os.path.join(inst.maildir(ALICE), "dovecot-keywords")) as f:
        assert f.read() == "0 $Work\n1 Later\n2 Urgent\n"

    r = inst.ctl("mailbox", "index", ALICE, "rebuild")
    assert "INBOX: 2 messages" in r.stdout, r.stdout
    c = connect(inst)
    typ, data = c.select("INBOX")
    assert c.response("UIDVALIDITY") != uv_before	# really rebuilt
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS)")
    after = flags_of(data)
    # keywords compare case-insensitively (RFC 3501); a rebuild gives each the
    # spelling in dovecot-keywords
    assert after == {1: {"\\Seen", "$Work", "Later"}, 2: {"$Work", "Urgent"}}, after
    assert {u: {f.lower() for f in v} for u, v in after.items()} == \
        {u: {f.lower() for f in v} for u, v in before.items()}
    c.logout()


def uids_of(c):
    typ, data = c.uid("SEARCH", "ALL")
    assert typ == "OK"
    return [int(x) for x in data[0].split()]


def test_outside_change_right_after_own_change_is_seen(inst):
    """The index is trusted without reading cur/ after this session's own
    changes; a change another Maildir tool makes right after one (a rename,
    an unlink) must still reach the client at the next command."""
    c = connect(inst)
    for _ in range(3):
        assert c.append("INBOX", None, None, MSG)[0] == "OK"
    c.select("INBOX")
    cur = os.path.join(inst.maildir(ALICE), "cur")
    for round_ in range(5):
        before = set(cur_names(inst))
        assert c.append("INBOX", None, None, MSG)[0] == "OK"
        (fresh,) = set(cur_names(inst)) - before
        c.noop()
        uids = uids_of(c)
        assert c.uid("STORE", str(uids[0]), "+FLAGS", "(\\Flagged)")[0] == "OK"
        # at once, another tool marks the newest message answered ...
        os.rename(os.path.join(cur, fresh), os.path.join(cur, fresh + "R"))
        c.noop()
        got = flags_of(c.uid("FETCH", str(uids[-1]), "(UID FLAGS)")[1])
        assert got[uids[-1]] == {"\\Answered"}, (round_, got)
        # ... and, right after our next change, deletes the flagged one
        assert c.uid("STORE", str(uids[1]), "+FLAGS", "(\\Seen)")[0] == "OK"
        (flagged,) = [n for n in cur_names(inst) if "F" in n.split(":2,")[1]]
        os.unlink(os.path.join(cur, flagged))
        c.noop()
        assert uids_of(c) == uids[1:], round_
    c.logout()
