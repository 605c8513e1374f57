"""mailctl domain/user/alias: the user database and Maildir creation.

These commands work whether the instance runs or not, so most tests use an
instance directory that has only tern.conf (nothing started)."""
import os
import pwd
import subprocess
import time

import pytest

from conftest import IS_ROOT, mailctl


def ensure_account(name):
    """The mail store account (mailctl init creates it; these tests may run first)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["/usr/sbin/useradd", "--system", "--user-group", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", name], check=False)


@pytest.fixture
def bare(tmp_parent):
    """An instance directory with a default tern.conf and no daemons."""
    d = os.path.join(tmp_parent, "bare")
    os.mkdir(d)
    with open(os.path.join(d, "tern.conf"), "w") as f:
        f.write("# test instance\n")
    if IS_ROOT:
        ensure_account("tern-vmail")
        ensure_account("tern-auth")

    def ctl(*args, **kw):
        return mailctl("-c", d, *args, **kw)
    ctl.dir = d
    return ctl


def lines(p):
    return p.stdout.splitlines()


def test_domain_add_list_del(bare):
    bare("domain", "add", "Example.TEST")
    bare("domain", "add", "other.test")
    bare("domain", "add", "other.test")          # adding twice is fine
    assert lines(bare("domain", "list")) == ["example.test", "other.test"]
    bare("domain", "del", "other.test")
    assert lines(bare("domain", "list")) == ["example.test"]
    p = bare("domain", "del", "nosuch.test", check=False)
    assert p.returncode != 0 and p.stderr.count("\n") == 1 and "no such domain" in p.stderr
    p = bare("domain", "add", "bad domain!", check=False)
    assert p.returncode != 0 and "not a valid domain" in p.stderr


def test_user_add_list_del(bare):
    bare("domain", "add", "example.test")
    bare("user", "add", "alice@example.test", input="s3cret\n")
    bare("user", "add", "Bob@Example.test", "10m", input="pw2\n")
    assert lines(bare("user", "list")) == ["alice@example.test", "bob@example.test"]
    assert lines(bare("user", "list", "example.test")) == ["alice@example.test", "bob@example.test"]
    assert lines(bare("user", "quota", "bob@example.test")) == [str(10 * 1024 * 1024)]
    bare("user", "quota", "bob@example.test", "2g")
    assert lines(bare("user", "quota", "bob@example.test")) == [str(2 * 1024 ** 3)]
    bare("user", "quota", "bob@example.test", "0")
    assert lines(bare("user", "quota", "bob@example.test")) == ["0"]
    p = bare("user", "quota", "bob@example.test", "lots", check=False)
    assert p.returncode != 0 and "bad size" in p.stderr
    p = bare("user", "add", "alice@example.test", input="x\n", check=False)
    assert p.returncode != 0 and "already exists" in p.stderr
    bare("user", "del", "bob@example.test")
    assert lines(bare("user", "list")) == ["alice@example.test"]
    p = bare("user", "del", "bob@example.test", check=False)
    assert p.returncode != 0 and "no such user" in p.stderr
    # A domain with users cannot be removed.
    p = bare("domain", "del", "example.test", check=False)
    assert p.returncode != 0 and "delete them first" in p.stderr


def test_user_add_unknown_domain_refused(bare):
    bare("domain", "add", "example.test")
    p = bare("user", "add", "carol@elsewhere.test", input="pw\n", check=False)
    assert p.returncode != 0
    assert p.stderr.count("\n") == 1 and "not a local domain" in p.stderr
    assert lines(bare("user", "list")) == []
    assert not os.path.exists(os.path.join(bare.dir, "mail", "elsewhere.test"))


def test_user_add_bad_input(bare):
    bare("domain", "add", "example.test")
    for addr in ("noat", "a/b@example.test", "../x@example.test", "a+b@example.test"):
        p = bare("user", "add", addr, input="pw\n", check=False)
        assert p.returncode != 0 and p.stderr.count("\n") == 1, addr
    p = bare("user", "add", "dave@example.test", input="", check=False)
    assert p.returncode != 0 and "no password" in p.stderr
    p = bare("user", "add", "dave@example.test", input="x" * 5000 + "\n", check=False)
    assert p.returncode != 0 and "too long" in p.stderr
    assert lines(bare("user", "list")) == []


def test_maildir_created_with_owner(bare):
    bare("domain", "add", "example.test")
    bare("user", "add", "alice@example.test", input="s3cret\n")
    md = os.path.join(bare.dir, "mail", "example.test", "alice")
    want_uid = pwd.getpwnam("tern-vmail").pw_uid if IS_ROOT else os.geteuid()
    dirs = [md] + [os.path.join(md, s) for s in ("cur", "new", "tmp")]
    for folder in (".Sent", ".Drafts", ".Trash", ".Junk", ".Archive"):
        dirs.append(os.path.join(md, folder))
        dirs += [os.path.join(md, folder, s) for s in ("cur", "new", "tmp")]
    for d in dirs:
        st = os.stat(d)
        assert os.path.isdir(d), d
        assert st.st_uid == want_uid, d
        assert st.st_mode & 0o077 == 0, d      # private to the mail store account
    assert os.path.isfile(os.path.join(md, ".Junk", "maildirfolder"))


def test_password_not_stored_in_clear(bare):
    bare("domain", "add", "example.test")
    bare("user", "add", "alice@example.test", input="Sw0rdfish-unique\n")
    bare("user", "passwd", "alice@example.test", input="An0ther-unique\n")
    for name in os.listdir(os.path.join(bare.dir, "db")):
        with open(os.path.join(bare.dir, "db", name), "rb") as f:
            data = f.read()
        assert b"Sw0rdfish-unique" not in data and b"An0ther-unique" not in data
    with open(os.path.join(bare.dir, "db", "users.db"), "rb") as f:
        assert b"$y$" in f.read()               # yescrypt
    if IS_ROOT:                                 # only the auth service may read it
        st = os.stat(os.path.join(bare.dir, "db", "users.db"))
        assert st.st_uid == pwd.getpwnam("tern-auth").pw_uid and st.st_mode & 0o077 == 0


def test_alias_add_list_del(bare):
    bare("domain", "add", "example.test")
    bare("alias", "add", "info@example.test", "alice@example.test,bob@example.test")
    bare("alias", "add", "info@example.test", "carol@remote.test")
    bare("alias", "add", "@example.test", "alice@example.test")
    assert lines(bare("alias", "list")) == [
        "@example.test alice@example.test",
        "info@example.test alice@example.test,bob@example.test,carol@remote.test"]
    bare("alias", "del", "info@example.test", "bob@example.test")
    assert "info@example.test alice@example.test,carol@remote.test" in lines(bare("alias", "list"))
    bare("alias", "del", "info@example.test")
    assert lines(bare("alias", "list")) == ["@example.test alice@example.test"]
    p = bare("alias", "add", "x@nosuch.test", "alice@example.test", check=False)
    assert p.returncode != 0 and "not a local domain" in p.stderr
    p = bare("alias", "add", "x@example.test", "not an address", check=False)
    assert p.returncode != 0 and "not a valid target" in p.stderr
    p = bare("alias", "del", "nobody@example.test", check=False)
    assert p.returncode != 0 and "no such alias" in p.stderr


def test_help_and_usage_errors(bare):
    for group in ("domain", "user", "alias"):
        p = bare(group, "--help")
        assert "usage:" in p.stdout
        p = bare(group, check=False)
        assert p.returncode != 0 and p.stderr.count("\n") == 1
        p = bare(group, "frob", check=False)
        assert p.returncode != 0 and "unknown" in p.stderr and p.stderr.count("\n") == 1
    for sub in ("add", "del", "passwd", "list", "quota", "auth"):
        p = bare("user", sub, "--help")
        assert p.stdout.startswith("usage: mailctl [-c DIR] user " + sub)
    p = bare("user", "add", check=False)
    assert p.returncode != 0 and "usage" in p.stderr


def test_missing_instance(tmp_parent):
    p = mailctl("-c", os.path.join(tmp_parent, "nope"), "user", "list", check=False)
    assert p.returncode != 0 and p.stderr.count("\n") == 1 and "mailctl init" in p.stderr


def test_user_auth_without_running_instance(bare):
    bare("domain", "add", "example.test")
    bare("user", "add", "alice@example.test", input="s3cret\n")
    p = bare("user", "auth", "alice@example.test", input="s3cret\n", check=False)
    assert p.returncode != 0 and p.stderr.count("\n") == 1 and "not running" in p.stderr


def run_on_tty(argv, answers, timeout=20):
    """Run argv on a pseudo-terminal, answering each prompt in turn; returns
    (exit status, everything the terminal showed)."""
    import pty
    import select as sel
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    shown, pending = b"", list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = sel.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 1024)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
                # One answer per prompt, once that prompt has been shown.
                if pending and shown.count(b"assword: ") > len(answers) - len(pending):
                    os.write(fd, pending.pop(0).encode() + b"\n")
            elif os.waitpid(pid, os.WNOHANG)[0]:
                break
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_password_prompt_on_tty_without_echo(bare):
    from conftest import MAILCTL
    bare("domain", "add", "example.test")
    rc, shown = run_on_tty([MAILCTL, "-c", bare.dir, "user", "add", "tty@example.test"],
                           ["Tty-Secret-1", "Tty-Secret-1"])
    assert rc == 0, shown
    assert "Password:" in shown and "Retype password:" in shown
    assert "Tty-Secret-1" not in shown                 # not echoed
    assert lines(bare("user", "list")) == ["tty@example.test"]
    # A mistyped confirmation changes nothing.
    rc, shown = run_on_tty([MAILCTL, "-c", bare.dir, "user", "passwd", "tty@example.test"],
                           ["New-1", "New-2"])
    assert rc != 0 and "do not match" in shown


# ---- with a running instance (mailctl init + start) ----

def test_user_add_and_auth_on_running_instance(instance):
    pw = "Right-Pw-Unique-77"
    instance.add_user("alice@example.test", pw)
    assert instance.ctl("user", "auth", "alice@example.test", input=pw + "\n").stdout == "ok\n"
    p = instance.ctl("user", "auth", "alice@example.test", input="wrong\n", check=False)
    assert p.returncode == 1 and p.stdout == "failed\n"
    p = instance.ctl("user", "auth", "nobody@example.test", input=pw + "\n", check=False)
    assert p.returncode == 1 and p.stdout == "failed\n"
    md = instance.maildir("alice@example.test")
    want = pwd.getpwnam("tern-vmail").pw_uid if IS_ROOT else os.geteuid()
    assert os.stat(os.path.join(md, "new")).st_uid == want
    log = instance.log_text()
    assert "alice@example.test" in log and "result=ok" in log and "result=failed" in log
    assert pw not in log and "wrong" not in log.replace("wrong user", "")


def test_failures_slowed_then_refused_on_running_instance(tmp_parent):
    from conftest import Instance
    inst = Instance(tmp_parent)
    inst.init()
    inst.set_conf("authd", "failure_delay", "1s")
    inst.set_conf("authd", "max_failures", "3")
    inst.start()
    try:
        inst.add_user("bob@example.test", "Bob-Right-1")
        for i in range(3):
            t0 = time.monotonic()
            p = inst.ctl("user", "auth", "bob@example.test", input=f"bad{i}\n", check=False)
            assert p.returncode == 1 and p.stdout == "failed\n"
            assert time.monotonic() - t0 >= 0.9       # answered late
        # Locked out now: the right password is refused too, with a clear message.
        p = inst.ctl("user", "auth", "bob@example.test", input="Bob-Right-1\n", check=False)
        assert p.returncode == 1 and p.stdout == "failed\n" and "too many failed" in p.stderr
        assert "result=locked" in inst.log_text()
    finally:
        inst.stop()


def test_only_authd_and_mailctl_contain_password_code():
    # The code that reads password hashes is linked into authd and mailctl only
    # (PRODUCT.md 5: pre-auth parsers cannot read password hashes).
    import glob
    from conftest import TERN_BIN
    for path in glob.glob(os.path.join(TERN_BIN, "*")):
        syms = subprocess.run(["nm", path], capture_output=True, text=True, timeout=30).stdout
        has = " T userdb_check_password\n" in syms
        name = os.path.basename(os.path.realpath(path))
        assert has == (name in ("mailctl", "tern-authd")), path
