"""directory = pgsql: domains, users and aliases in PostgreSQL (issue 16).

Each test starts its own PostgreSQL cluster in a temp dir (initdb, pg_ctl; as
an unprivileged account when root, as PostgreSQL requires) listening on a
loopback port, and points an instance at it: `mailctl domain/user/alias`
against it, `mailctl directory export|import` between Berkeley DB and
PostgreSQL, authd answering from it, and while the server is down TEMPFAIL
(SMTP 4xx, never 5xx) until it is back."""
import glob
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time

import pytest

from conftest import IS_ROOT, Instance, mailctl, wait_for
import authproto as ap
from smtp_raw import Raw
from test_authd import Authd
from test_users import ensure_account

PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
pytestmark = pytest.mark.skipif(
    not PG_BINS, reason="PostgreSQL server not installed (tools/deps.sh check installs postgresql)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A throwaway cluster: database tern, superuser tern, trust auth."""

    def __init__(self, parent, prefix=(), addr="127.0.0.1", port=None):
        """prefix: a command to run the server under (ip netns exec NS) and
        addr, port where it listens there (besides 127.0.0.1)."""
        self.bin = os.path.dirname(PG_BINS[-1])
        self.dir = os.path.join(parent, "pg")
        self.data = os.path.join(self.dir, "data")
        self.prefix, self.addr = tuple(prefix), addr
        self.port = port or free_port()
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        if IS_ROOT:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
        self.run("initdb", "-D", self.data, "-U", "tern", "--auth=trust", "-E", "UTF8",
                 "--no-sync")
        if self.addr != "127.0.0.1":      # the other hosts of the namespace's network
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
                f.write("host all all samenet trust\n")
        self.start()
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "tern", "tern")

    def run(self, prog, *args):
        cmd = [os.path.join(self.bin, prog), *args]
        if IS_ROOT:
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
        p = subprocess.run([*self.prefix, *cmd], capture_output=True, text=True, timeout=60,
                           cwd=self.dir)
        assert p.returncode == 0, f"{prog} exited {p.returncode}: {p.stdout}{p.stderr}"
        return p

    def start(self):
        self.run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-o",
                 f"-k {self.dir} -p {self.port} -c listen_addresses={self.listen()} -c fsync=off",
                 "start")

    def stop(self):
        self.run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def close(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.stop()

    def listen(self):
        return "127.0.0.1" if self.addr == "127.0.0.1" else f"127.0.0.1,{self.addr}"

    def conninfo(self):
        return f"host={self.addr} port={self.port} dbname=tern user=tern"


@pytest.fixture
def pg(tmp_parent):
    p = Postgres(tmp_parent)
    yield p
    p.close()


def use_pgsql(conf_dir, pg):
    with open(os.path.join(conf_dir, "tern.conf"), "a") as f:
        f.write(f"directory = pgsql\ndirectory_pgsql = {pg.conninfo()}\n"
                "directory_timeout = 2s\n")


def bare_dir(parent, name, pg=None):
    """An instance directory with only tern.conf (nothing started)."""
    d = os.path.join(parent, name)
    os.mkdir(d)
    with open(os.path.join(d, "tern.conf"), "w") as f:
        f.write("# test instance\n")
    if pg:
        use_pgsql(d, pg)
    if IS_ROOT:
        ensure_account("tern-vmail")
        ensure_account("tern-auth")
    return d


def lines(p):
    return p.stdout.splitlines()


def test_mailctl_domain_user_alias_on_pgsql(tmp_parent, pg):
    d = bare_dir(tmp_parent, "inst", pg)

    def ctl(*a, **kw):
        return mailctl("-c", d, *a, **kw)

    # Before the tables exist the error says how to make them.
    p = ctl("domain", "list", check=False)
    assert p.returncode != 0 and "mailctl directory init" in p.stderr
    assert "PostgreSQL" in ctl("directory", "init").stdout
    ctl("directory", "init")                      # safe to repeat
    ctl("domain", "add", "Example.TEST")
    ctl("domain", "add", "other.test")
    ctl("domain", "add", "other.test")
    assert lines(ctl("domain", "list")) == ["example.test", "other.test"]
    ctl("user", "add", "alice@example.test", input="s3cret\n")
    ctl("user", "add", "Bob@Example.test", "10m", "--host", "MB2.example.test", input="pw2\n")
    assert lines(ctl("user", "list")) == ["alice@example.test", "bob@example.test"]
    assert lines(ctl("user", "quota", "bob@example.test")) == [str(10 * 1024 * 1024)]
    assert lines(ctl("user", "host", "bob@example.test")) == ["mb2.example.test"]
    ctl("user", "host", "bob@example.test", "10.0.0.7")
    assert lines(ctl("user", "host", "bob@example.test")) == ["10.0.0.7"]
    p = ctl("user", "add", "alice@example.test", input="x\n", check=False)
    assert p.returncode != 0 and "already exists" in p.stderr
    p = ctl("user", "add", "carol@nowhere.test", input="x\n", check=False)
    assert p.returncode != 0 and "not a local domain" in p.stderr
    # The Maildir of a user without a mailbox host is made here; bob's is not.
    assert os.path.isdir(os.path.join(d, "mail", "example.test", "alice", "new"))
    assert not os.path.exists(os.path.join(d, "mail", "example.test", "bob"))
    ctl("alias", "add", "info@example.test", "alice@example.test,bob@example.test")
    ctl("alias", "add", "info@example.test", "carol@far.test")
    ctl("alias", "add", "@other.test", "alice@example.test")
    assert lines(ctl("alias", "list")) == [
        "@other.test alice@example.test",
        "info@example.test alice@example.test,bob@example.test,carol@far.test"]
    ctl("alias", "del", "info@example.test", "bob@example.test")
    assert lines(ctl("alias", "list", "example.test")) == [
        "info@example.test alice@example.test,carol@far.test"]
    p = ctl("domain", "del", "example.test", check=False)
    assert p.returncode != 0 and "delete them first" in p.stderr
    ctl("user", "del", "bob@example.test")
    p = ctl("user", "del", "bob@example.test", check=False)
    assert p.returncode != 0 and "no such user" in p.stderr
    assert lines(ctl("user", "list")) == ["alice@example.test"]


def fill(ctl):
    ctl("domain", "add", "example.test")
    ctl("domain", "add", "other.test")
    ctl("user", "add", "alice@example.test", input="Alice-pw-1\n")
    ctl("user", "add", "bob@example.test", "5m", "--host", "mb2.example.test", input="Bob-pw-2\n")
    ctl("alias", "add", "info@example.test", "alice@example.test,bob@example.test")
    ctl("alias", "add", "@other.test", "alice@example.test")


def test_export_import_bdb_to_pgsql_and_back(tmp_parent, pg):
    bdb = bare_dir(tmp_parent, "bdb")
    fill(lambda *a, **kw: mailctl("-c", bdb, *a, **kw))
    dump = os.path.join(tmp_parent, "site.dump")
    mailctl("-c", bdb, "directory", "export", dump)
    assert stat.S_IMODE(os.stat(dump).st_mode) == 0o600     # it holds password hashes
    p = mailctl("-c", bdb, "directory", "export", dump, check=False)
    assert p.returncode != 0 and "new file" in p.stderr      # never over another file
    text = open(dump).read()
    assert text.startswith("tern-directory 1\n")
    assert "user\tbob@example.test\t5242880\tmb2.example.test\t$y$" in text

    pgd = bare_dir(tmp_parent, "pgsql", pg)
    mailctl("-c", pgd, "directory", "init")
    out = mailctl("-c", pgd, "directory", "import", dump).stdout
    assert "2 domain(s), 2 user(s), 2 alias(es)" in out
    mailctl("-c", pgd, "directory", "import", dump)          # repeating changes nothing
    assert mailctl("-c", pgd, "directory", "export").stdout == text

    # And back into a new Berkeley DB site, from standard input.
    back = bare_dir(tmp_parent, "back")
    mailctl("-c", back, "directory", "import", input=mailctl("-c", pgd, "directory", "export").stdout)
    assert mailctl("-c", back, "directory", "export").stdout == text


@pytest.mark.parametrize("body, why", [
    ("domain\texample.test\n", "not a tern directory export"),
    ("tern-directory 1\ndomain\tx.test\nuser\ta@x.test\t0\t\tnot a hash\n", "line 3"),
    ("tern-directory 1\ndomain\tx.test\nalias\tbad key\ta@x.test\n", "line 3"),
    ("tern-directory 1\ndomain\tx.test\nuser\ta@x.test\tlots\t\t$y$abc\n", "bad quota"),
    ("tern-directory 1\ndomain\tx.test\nfrobnicate\tx\n", "line 3"),
])
def test_import_checks_everything_first(tmp_parent, pg, body, why):
    pgd = bare_dir(tmp_parent, "pgsql", pg)
    mailctl("-c", pgd, "directory", "init")
    p = mailctl("-c", pgd, "directory", "import", input=body, check=False)
    assert p.returncode != 0 and why in p.stderr and p.stderr.count("\n") == 1
    assert lines(mailctl("-c", pgd, "domain", "list")) == []   # nothing written


@pytest.fixture
def pg_authd(tmp_parent, pg):
    if IS_ROOT:
        ensure_account("tern-vmail")
        ensure_account("tern-auth")
    a = Authd(tmp_parent)
    use_pgsql(a.dir, pg)
    db = os.path.join(a.dir, "db")   # authd's own state, as mailctl init makes it
    os.mkdir(db, 0o700)
    if IS_ROOT:
        auth = pwd.getpwnam("tern-auth")
        os.chown(db, auth.pw_uid, auth.pw_gid)
    a.ctl("directory", "init")
    fill(a.ctl)
    a.start()
    yield a
    a.stop()   # fails the test if authd crashed, or leaked under ASan
    assert "cannot write" not in a.log(), a.log()[-3000:]   # its failure counts were saved


def test_authd_answers_from_pgsql_and_tempfails_while_it_is_down(pg_authd, pg):
    a = pg_authd
    assert "directory=PostgreSQL host=127.0.0.1" in a.log()
    c = a.conn()
    assert c.login("alice@example.test", "Alice-pw-1")[0] == ap.AUTH_OK
    assert c.login("alice@example.test", "wrong")[0] == ap.AUTH_FAIL
    assert c.rcpt("alice@example.test") == ap.RCPT_LOCAL
    assert c.rcpt("nobody@example.test") == ap.RCPT_UNKNOWN
    assert c.rcpt("x@other.test") == ap.RCPT_LOCAL                    # catch-all
    assert c.user("bob@example.test") == [1, 5 * 1024 * 1024]
    st, boxes = c.expand("info@example.test")
    assert st == ap.EXPAND_OK and sorted(b[0] for b in boxes) == [
        "alice@example.test", "bob@example.test"]

    pg.stop()
    # Unreachable: temporary failures, never "no such user", and quickly.
    t0 = time.monotonic()
    assert c.rcpt("alice@example.test") == ap.RCPT_TEMPFAIL
    assert c.rcpt("nobody@example.test") == ap.RCPT_TEMPFAIL
    assert c.login("alice@example.test", "Alice-pw-1")[0] == ap.AUTH_TEMPFAIL
    assert c.expand("info@example.test")[0] == ap.EXPAND_TEMPFAIL
    assert time.monotonic() - t0 < 10
    # Sender and user checks have no temporary answer in the protocol: authd
    # closes the connection, which its clients take as a temporary failure.
    with pytest.raises(EOFError):
        c.sender("alice@example.test", "info@example.test")
    c.close()
    assert "result=tempfail (directory:" in a.log()

    pg.start()
    c = a.conn()
    # Back: the pool reconnects by itself (a failed connect is retried after a second).
    assert wait_for(lambda: c.rcpt("alice@example.test") == ap.RCPT_LOCAL, timeout=10)
    assert c.login("alice@example.test", "Alice-pw-1")[0] == ap.AUTH_OK
    assert c.rcpt("nobody@example.test") == ap.RCPT_UNKNOWN
    assert c.sender("alice@example.test", "info@example.test") == 1
    c.close()


def send_one(port, rcpt):
    """(code of RCPT, code after DATA or None)."""
    s = Raw(port)
    assert s.reply()[0] == 220
    assert s.code("EHLO client.test") == 250
    assert s.code("MAIL FROM:<sender@far.test>") == 250
    code = s.code(f"RCPT TO:<{rcpt}>")
    done = None
    if code == 250:
        assert s.code("DATA") == 354
        done = s.code("Subject: via pgsql\r\n\r\nhello\r\n.")
    s.code("QUIT")
    s.close()
    return code, done


def test_instance_on_pgsql_delivers_and_answers_4xx_while_it_is_down(tmp_parent, pg):
    inst = Instance(tmp_parent)
    inst.init()
    use_pgsql(inst.dir, pg)
    inst.ctl("directory", "init")
    inst.ctl("domain", "add", "example.test")
    inst.add_user("alice@example.test", "Alice-pw-1")
    inst.start()
    try:
        assert send_one(inst.port("smtp"), "alice@example.test") == (250, 250)
        new = os.path.join(inst.maildir("alice@example.test"), "new")
        assert wait_for(lambda: len(os.listdir(new)) == 1, timeout=20)
        assert send_one(inst.port("smtp"), "nobody@example.test")[0] == 550
        pg.stop()
        code, _ = send_one(inst.port("smtp"), "alice@example.test")
        assert 400 <= code < 500
        code, _ = send_one(inst.port("smtp"), "nobody@example.test")
        assert 400 <= code < 500                                  # never a bounce
        p = inst.ctl("user", "auth", "alice@example.test", input="Alice-pw-1\n", check=False)
        assert p.returncode != 0 and "ok" not in p.stdout.split()
        pg.start()
        assert wait_for(lambda: send_one(inst.port("smtp"), "alice@example.test")[0] == 250,
                        timeout=15)
        assert wait_for(lambda: len(os.listdir(new)) == 2, timeout=20)
        assert "ok" in inst.ctl("user", "auth", "alice@example.test", input="Alice-pw-1\n").stdout
    finally:
        inst.stop()
