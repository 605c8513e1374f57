"""`mailctl user move ADDRESS HOST` (issue 16, docs/SCALING.md "Moving a
user"): the Maildir goes to another mailbox host with its index while mail
keeps arriving, and nothing is lost or duplicated.

One PostgreSQL cluster and three instances on loopback for the module: the
mailbox hosts mb1 and mb2 and a front-end routing to both. mb1 copies with
site_copy_command = "mailctl -c MB2 user receive" (on real hosts: ssh)."""
import collections
import os
import re
import shutil
import smtplib
import tempfile
import threading
import time

import pytest

from conftest import MAILCTL, Instance, wait_for
from test_directory_pgsql import PG_BINS, Postgres, use_pgsql
from test_site import closed_port
from test_site_relay import Imap, write_secret

pytestmark = pytest.mark.skipif(
    not PG_BINS, reason="PostgreSQL server not installed (tools/deps.sh check installs postgresql)")


class Site:
    def __init__(self, parent):
        # a start that fails part way still stops what it started
        # (PostgreSQL above all), then the test reports the failure
        try:
            self._build(parent)
        except BaseException:
            self.close()
            raise

    def _build(self, parent):
        self.pg = Postgres(parent)
        self.mb1 = Instance(parent, hostname="mb1.example.test")
        self.mb2 = Instance(parent, hostname="mb2.example.test")
        self.fe = Instance(parent, hostname="fe.example.test")
        for inst in (self.mb1, self.mb2, self.fe):
            inst.init()
            use_pgsql(inst.dir, self.pg)
            write_secret(inst)
        self.mb1.ctl("directory", "init")
        self.mb1.ctl("domain", "add", "example.test")
        for user in ("carol", "erin"):
            self.mb1.ctl("user", "add", f"{user}@example.test", "--host", "mb1",
                         input=f"{user}-pw-1\n")
        for name, inst in (("mb1", self.mb1), ("mb2", self.mb2)):
            for k, v in {"role": "mailbox", "mailbox_host_name": name,
                         "site_frontends": "127.0.0.1/32"}.items():
                inst.set_conf("tern", k, v)
        self.mb2.start()
        self.mb3_port = closed_port()
        self.mb1.set_conf("tern", "mailbox_hosts",
                          f"mb2=127.0.0.1:{self.mb2.port('smtp-internal')}, "
                          f"mb3=127.0.0.1:{self.mb3_port}")
        self.mb1.set_conf("tern", "site_copy_command", f"{MAILCTL} -c {self.mb2.dir} user receive")
        self.mb1.set_conf("queued", "minimal_backoff_time", "1s")
        self.mb1.start()
        self.fe.set_conf("tern", "role", "frontend")
        self.fe.set_conf("tern", "mailbox_hosts",
                         f"mb1=127.0.0.1:{self.mb1.port('smtp-internal')}, "
                         f"mb2=127.0.0.1:{self.mb2.port('smtp-internal')}")
        self.fe.set_conf("queued", "minimal_backoff_time", "1s")
        self.fe.start()

    def close(self):
        for name in ("fe", "mb1", "mb2"):
            inst = getattr(self, name, None)
            if inst is not None:
                inst.stop()
        if getattr(self, "pg", None) is not None:
            self.pg.close()


@pytest.fixture(scope="module")
def site():
    parent = tempfile.mkdtemp(prefix="tern-site-move-")
    os.chmod(parent, 0o755)     # the daemons' accounts must reach their instances
    s = Site(parent)
    yield s
    s.close()
    shutil.rmtree(parent, ignore_errors=True)


def send(inst, rcpt, subject):
    with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=20) as s:
        s.sendmail("x@sender.test", [rcpt], f"Subject: {subject}\r\n\r\nbody\r\n".encode())


def subjects(maildir):
    """Subject of every message in the folder maildir (new/ and cur/)."""
    out = []
    for d in ("new", "cur"):
        path = os.path.join(maildir, d)
        if not os.path.isdir(path):
            continue
        for name in os.listdir(path):
            with open(os.path.join(path, name), "rb") as f:
                m = re.search(rb"^Subject: (.*?)\r?$", f.read(), re.M)
            out.append(m.group(1).decode() if m else "")
    return out


def host_of(site, user):
    return site.mb1.ctl("user", "host", user).stdout.strip()


def login(site, user, password):
    c = Imap(site.fe.port("imap"))
    ok, _ = c.cmd(f"LOGIN {user} {password}")
    assert ok.startswith(b"OK"), (ok, site.fe.log_text()[-2000:])
    return c


def folder_state(c, folder):
    """(UIDVALIDITY, {subject: (uid, flags)}) of folder."""
    ok, untagged = c.cmd(f"SELECT {folder}")
    assert ok.startswith(b"OK"), ok
    validity = next(int(re.search(rb"UIDVALIDITY (\d+)", l).group(1))
                    for l in untagged if b"UIDVALIDITY" in l)
    c.n += 1
    tag = f"a{c.n}"
    c.send(f"{tag} UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    state, head = {}, None
    while True:
        l = c.line()
        assert l is not None, "connection closed"
        if l.startswith(tag.encode()):
            assert l.startswith(f"{tag} OK".encode()), l
            break
        m = re.search(rb"UID (\d+)", l)
        f = re.search(rb"FLAGS \(([^)]*)\)", l)
        if l.startswith(b"* ") and m and f:
            flags = sorted(x for x in f.group(1).decode().split() if x != "\\Recent")
            head = (int(m.group(1)), tuple(flags))
        s = re.match(rb"Subject: (.*)", l)
        if s and head:
            state[s.group(1).decode()] = head
            head = None
    return validity, state


def delivered(site, inst, user, n):
    return wait_for(lambda: len(subjects(inst.maildir(user))) >= n, timeout=60)


def test_a_move_to_a_host_that_is_down_leaves_the_user_where_it_was(site):
    user = "erin@example.test"
    send(site.fe, user, "erin-1")
    assert delivered(site, site.mb1, user, 1), site.fe.ctl("queue", "list").stdout
    r = site.mb1.ctl("user", "move", user, "mb3", check=False)
    assert r.returncode != 0 and "mb3" in r.stderr and "down" in r.stderr, r.stderr
    assert host_of(site, user) == "mb1"
    assert subjects(site.mb1.maildir(user)) == ["erin-1"]
    # A host that answers but whose copy fails (site_copy_command exits 1)
    # gives the user back too, after the hold: mail still reaches mb1.
    site.mb1.set_conf("tern", "site_copy_command", "false")
    try:
        r = site.mb1.ctl("user", "move", user, "mb2", check=False)
    finally:
        site.mb1.set_conf("tern", "site_copy_command",
                          f"{MAILCTL} -c {site.mb2.dir} user receive")
    assert r.returncode != 0 and "false failed" in r.stderr and "stays on mb1" in r.stderr, \
        r.stderr
    assert host_of(site, user) == "mb1"
    assert not os.path.exists(site.mb2.maildir(user))
    send(site.fe, user, "erin-2")
    assert delivered(site, site.mb1, user, 2), site.fe.ctl("queue", "list").stdout
    assert sorted(subjects(site.mb1.maildir(user))) == ["erin-1", "erin-2"]


def test_while_a_user_is_held_mail_waits_and_logins_are_told_to_try_later(site):
    """The hold a move sets (the directory names moving.invalid): the
    front-end accepts and keeps the mail (4.2.0, never a bounce), IMAP and
    POP3 logins are told to try later, and all resumes when the directory
    names a host again."""
    user = "erin@example.test"
    n = len(subjects(site.mb1.maildir(user)))
    site.mb1.ctl("user", "host", user, "moving.invalid")
    try:
        send(site.fe, user, "held")

        def kept():
            out = site.fe.ctl("queue", "list").stdout
            return user in out and out
        out = wait_for(kept, timeout=20)
        assert out, site.fe.ctl("queue", "list").stdout
        assert wait_for(lambda: "being moved" in site.fe.ctl("queue", "show",
                                                            out.split()[0]).stdout, timeout=20)
        c = Imap(site.fe.port("imap"))
        try:
            ok, _ = c.cmd(f"LOGIN {user} erin-pw-1")
            assert ok.startswith(b"NO [UNAVAILABLE]"), ok
        finally:
            c.close()
        assert len(subjects(site.mb1.maildir(user))) == n
    finally:
        site.mb1.ctl("user", "host", user, "mb1")
    site.fe.ctl("queue", "flush")
    assert wait_for(lambda: "held" in subjects(site.mb1.maildir(user)), timeout=40), \
        site.fe.ctl("queue", "list").stdout
    assert "being moved to another mailbox host" in site.fe.log_text()


def test_a_move_while_mail_arrives_loses_and_duplicates_nothing(site):
    user, pw = "carol@example.test", "carol-pw-1"
    for i in range(3):
        send(site.fe, user, f"old-{i}")
    assert delivered(site, site.mb1, user, 3), site.fe.ctl("queue", "list").stdout
    c = login(site, user, pw)
    try:
        assert c.cmd("SELECT INBOX")[0].startswith(b"OK")
        assert c.cmd("STORE 1 +FLAGS (\\Flagged)")[0].startswith(b"OK")
        assert c.cmd("STORE 2 +FLAGS (\\Seen \\Answered)")[0].startswith(b"OK")
        c.cmd("CREATE Sent")                    # made at the first delivery: no Sent yet
        msg = "Subject: sent-1\r\n\r\nmine\r\n"
        c.n += 1
        c.send(f"a{c.n} APPEND Sent (\\Seen) {{{len(msg)}}}")
        assert c.line().startswith(b"+")
        c.send(msg)
        assert c.line().startswith(f"a{c.n} OK".encode())
        before = {f: folder_state(c, f) for f in ("INBOX", "Sent")}
        c.cmd("LOGOUT")
    finally:
        c.close()
    assert "proxy=mb1" in site.fe.log_text()

    # A sender keeps mailing carol through the front-end, numbered, before,
    # during and after the move; it retries a message the front-end refuses.
    sent, stop, errors = [], threading.Event(), []

    def sender():
        i = 0
        while not stop.is_set() and i < 1000:
            for _ in range(50):
                try:
                    send(site.fe, user, f"move-{i:03d}")
                    sent.append(i)
                    time.sleep(0.1)         # a steady trickle, not a flood
                    break
                except (smtplib.SMTPException, OSError) as e:
                    errors.append(repr(e))
                    time.sleep(0.1)
            i += 1
    t = threading.Thread(target=sender)
    t.start()
    try:
        assert wait_for(lambda: sum(s.startswith("move-")
                                    for s in subjects(site.mb1.maildir(user))) >= 5, timeout=60)
        t0, during0 = time.monotonic(), len(sent)
        r = site.mb1.ctl("user", "move", user, "mb2", check=False, timeout=200)
        during = len(sent)
        print(f"move took {time.monotonic() - t0:.1f} s; {during - during0} sent meanwhile")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert wait_for(lambda: len(sent) >= during + 5, timeout=60), (during, len(sent),
                                                                        errors[-3:], r.stdout)
    finally:
        stop.set()
        t.join(timeout=120)
    assert not t.is_alive()
    assert f"{user} moved to mb2" in r.stdout, r.stdout
    assert host_of(site, user) == "mb2"

    # Every numbered message on mb2 exactly once; nothing left behind.
    want = collections.Counter([f"old-{i}" for i in range(3)] +
                               [f"move-{i:03d}" for i in sent])

    def all_there():
        site.fe.ctl("queue", "flush")
        site.mb1.ctl("queue", "flush")
        return collections.Counter(subjects(site.mb2.maildir(user))) == want
    assert wait_for(all_there, timeout=90, interval=1), (
        len(sent), sorted((collections.Counter(subjects(site.mb2.maildir(user))) - want).items()),
        sorted((want - collections.Counter(subjects(site.mb2.maildir(user)))).items()),
        site.fe.ctl("queue", "list").stdout, site.mb1.ctl("queue", "list").stdout)
    assert not os.path.exists(site.mb1.maildir(user))        # the old copy moved aside
    kept = os.listdir(os.path.join(site.mb1.dir, "mail", ".moved", "example.test"))
    assert len(kept) == 1 and kept[0].startswith("carol."), kept
    assert wait_for(lambda: not site.fe.ctl("queue", "list").stdout.strip()
                    and not site.mb1.ctl("queue", "list").stdout.strip(), timeout=30)
    assert subjects(os.path.join(site.mb2.maildir(user), ".Sent")) == ["sent-1"]

    # IMAP at the front-end now reaches mb2: same UIDVALIDITY, UIDs and flags.
    c = login(site, user, pw)
    try:
        after = {f: folder_state(c, f) for f in ("INBOX", "Sent")}
        c.cmd("LOGOUT")
    finally:
        c.close()
    assert "proxy=mb2" in site.fe.log_text()
    assert f"site login: service=imap user={user} client=127.0.0.1 result=ok" \
        in site.mb2.log_text()
    for folder, (validity, state) in before.items():
        assert after[folder][0] == validity, folder
        for subject, (uid, flags) in state.items():
            assert after[folder][1][subject] == (uid, flags), (folder, subject)
    assert ("\\Flagged",) in [v[1] for v in after["INBOX"][1].values()]
    # The messages that arrived after the copy got new UIDs above the old ones.
    old_max = max(uid for uid, _ in before["INBOX"][1].values())
    assert all(uid > old_max for s, (uid, _) in after["INBOX"][1].items()
               if s not in before["INBOX"][1])
