"""mailctl init / start / status / check / reload / stop and the master.

Real instances made by `mailctl init` in temp directories, real daemons started
by the master, checked through /proc. Every instance is stopped at the end, and
the tests that stop one check that no process of it is left (zombies count as
gone: see TESTING.md).
"""
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess

import pytest

from conftest import IS_ROOT, MAILCTL, Instance, mailctl, wait_for

# Account and chroot (relative to the instance) of each process, as root
# (docs/ARCHITECTURE.md). Whatever `status` lists must match its row.
EXPECTED = {
    "authd": ("tern-auth", "db"),
    "smtpd": ("tern-smtpd", "run"),
    "queued": ("tern-queued", None),
    "deliverd-local": ("tern-vmail", None),
    "deliverd-remote": ("tern-deliverd", "run"),
    "deliverd-sts": ("tern-sts", "run"),
    "pop3d": ("tern-pop3d", "run"),
    "pop3d-mail": ("tern-vmail", None),
    "imapd": ("tern-imapd", "run"),
    "imapd-mail": ("tern-vmail", None),
    "imapd-idle": ("tern-imapd", "run"),
    "httpd": ("tern-httpd", "run"),
    "httpd-mail": ("tern-vmail", None),
}
NETWORK_CONFS = ("smtpd", "pop3d", "imapd", "httpd")
# Reloaded by a new generation (mailctl/procs.c); the others re-read in place.
GENERATIONAL = ("smtpd", "pop3d", "imapd", "httpd", "pop3d-mail", "imapd-mail", "httpd-mail", "authd",
                "deliverd-local", "deliverd-remote", "deliverd-sts")


def alive(pid):
    """Exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rindex(")") + 2] not in "ZX"


def instance_procs(inst_dir):
    """Live processes whose command line names the instance directory."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if inst_dir.encode() in args and alive(int(name)):
            found.append(int(name))
    return found


def status(inst):
    """{name: [(pid, user, state), ...]} from `mailctl status`."""
    out = {}
    for line in inst.ctl("status").stdout.splitlines():
        name, pid, user, state = line.split()
        out.setdefault(name, []).append((pid, user, state))
    return out


def all_running(inst):
    st = status(inst)
    return all(s == "running" for rows in st.values() for (_, _, s) in rows) and st


def uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])


def one_line_error(p):
    assert p.returncode != 0, p
    assert p.stderr.strip() and p.stderr.strip().count("\n") == 0, p.stderr
    return p.stderr


def stopped_cleanly(inst):
    inst.ctl("stop")
    inst.started = False
    assert wait_for(lambda: not instance_procs(inst.dir), timeout=15), instance_procs(inst.dir)
    p = inst.ctl("status", check=False)
    assert p.returncode != 0 and "not running" in one_line_error(p)


# ---------------------------------------------------------------- init

def test_init_creates_complete_instance(tmp_parent):
    inst = Instance(tmp_parent)
    out = inst.init().stdout
    assert inst.dir in out
    d = inst.dir
    conf = open(inst.conf_path()).read()
    assert f"port_base = {inst.port_base}" in conf
    assert "listen = 127.0.0.1" in conf and "log = file" in conf
    assert f"hostname = {inst.hostname}" in conf
    assert os.path.exists(os.path.join(d, "authd.conf"))
    # Each daemon config is its own --print-config output: documented defaults.
    assert open(os.path.join(d, "authd.conf")).read().startswith("# authd.conf")
    subj = subprocess.run(["openssl", "x509", "-in", inst.cert(), "-noout", "-subject"],
                          capture_output=True, text=True, check=True).stdout
    assert inst.hostname in subj
    assert stat.S_IMODE(os.stat(os.path.join(d, "tls", "key.pem")).st_mode) == 0o600
    owners = {"spool": ("tern-queued", 0o700), "mail": ("tern-vmail", 0o700),
              "db": ("tern-auth", 0o700), "run": ("root", 0o755), "log": ("root", 0o750)}
    for sub, (acct, mode) in owners.items():
        st = os.stat(os.path.join(d, sub))
        assert stat.S_IMODE(st.st_mode) == mode, sub
        want = acct if IS_ROOT else pwd.getpwuid(os.getuid()).pw_name
        assert pwd.getpwuid(st.st_uid).pw_name == want, sub
    if IS_ROOT:
        for acct in ("tern-smtpd", "tern-queued", "tern-deliverd", "tern-pop3d",
                     "tern-imapd", "tern-auth", "tern-vmail"):
            assert pwd.getpwnam(acct).pw_shell.endswith("nologin")
    assert inst.ctl("domain", "list").stdout.split() == [inst.domain]
    assert "configuration ok" in inst.ctl("check").stdout


def test_init_refuses_existing_instance(tmp_parent):
    inst = Instance(tmp_parent)
    inst.init()
    before = open(inst.conf_path()).read()
    err = one_line_error(mailctl("init", inst.dir, check=False))
    assert "already an instance" in err
    assert open(inst.conf_path()).read() == before
    # A non-empty directory that is not an instance is refused too.
    other = os.path.join(tmp_parent, "notempty")
    os.mkdir(other)
    open(os.path.join(other, "precious"), "w").close()
    err = one_line_error(mailctl("init", other, check=False))
    assert "not empty" in err and os.listdir(other) == ["precious"]


@pytest.mark.parametrize("args,words", [
    (["--port-base", "70000"], "--port-base"),
    (["--port-base", "x"], "--port-base"),
    (["--domain", "bad domain!"], "not a valid domain"),
    (["--hostname", "-bad-"], "not a valid host name"),
    (["--listen", "1.2.3"], "--listen"),
    (["--frobnicate"], "unknown"),
])
def test_init_bad_arguments(tmp_parent, args, words):
    d = os.path.join(tmp_parent, "bad")
    err = one_line_error(mailctl("init", d, *args, check=False))
    assert words in err
    assert not os.path.exists(d)


def test_init_path_too_long_for_sockets(tmp_parent):
    d = os.path.join(tmp_parent, "x" * 100)
    err = one_line_error(mailctl("init", d, check=False))
    assert "too long" in err and "shorter" in err
    assert not os.path.exists(d)


def test_init_without_directory():
    assert "which directory" in one_line_error(mailctl("init", check=False))


def test_init_unwritable_parent(tmp_parent):
    parent = os.path.join(tmp_parent, "ro")
    os.mkdir(parent, 0o555)
    target = os.path.join(parent, "inst")
    if IS_ROOT:
        # root may write anywhere: run as nobody, like an ordinary administrator.
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", MAILCTL,
               "init", target]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    else:
        p = mailctl("init", target, check=False)
    err = one_line_error(p)
    assert "not writable" in err and "choose" in err
    assert not os.path.exists(target)


def test_init_failure_leaves_nothing(tmp_parent):
    """A daemon whose --print-config fails half-way: init removes what it made."""
    bindir = os.path.join(tmp_parent, "bin")
    os.mkdir(bindir)
    shutil.copy(MAILCTL, bindir)
    with open(os.path.join(bindir, "tern-authd"), "w") as f:
        f.write("#!/bin/sh\necho '# partial'\nexit 1\n")
    os.chmod(os.path.join(bindir, "tern-authd"), 0o755)
    target = os.path.join(tmp_parent, "half")
    p = subprocess.run([os.path.join(bindir, "mailctl"), "init", target, "--port-base", "20000"],
                       capture_output=True, text=True, timeout=60)
    err = one_line_error(p)
    assert "tern-authd" in err and "print-config" in err
    assert not os.path.exists(target)
    # An existing empty directory is kept, and stays empty.
    os.mkdir(target)
    p = subprocess.run([os.path.join(bindir, "mailctl"), "init", target],
                       capture_output=True, text=True, timeout=60)
    one_line_error(p)
    assert os.listdir(target) == []


# ---------------------------------------------------------------- start / status / stop

def test_start_status_stop(instance):
    st = status(instance)
    assert set(st) >= {"master", "authd"}
    (mpid, muser, mstate), = st["master"]
    assert mstate == "running" and muser == pwd.getpwuid(os.getuid()).pw_name
    assert int(open(os.path.join(instance.dir, "run", "master.pid")).read()) == int(mpid)
    for name, rows in st.items():
        for pid, user, state in rows:
            assert state == "running" and alive(int(pid)), (name, pid)
    # Starting twice is refused while it runs.
    err = one_line_error(instance.ctl("start", check=False))
    assert "already running" in err
    stopped_cleanly(instance)
    assert not os.path.exists(os.path.join(instance.dir, "run", "master.sock"))


def test_daemons_run_under_own_account_and_chroot(instance):
    for name, rows in status(instance).items():
        if name == "master":
            continue
        assert name in EXPECTED, f"{name} missing from EXPECTED (docs/ARCHITECTURE.md)"
        account, chroot = EXPECTED[name]
        for pid, user, _ in rows:
            pid = int(pid)
            if IS_ROOT:
                assert user == account
                assert uid_of(pid) == pwd.getpwnam(account).pw_uid
                root = os.readlink(f"/proc/{pid}/root")
                want = os.path.realpath(os.path.join(instance.dir, chroot)) if chroot else "/"
                assert root == want, (name, root)
            else:
                assert uid_of(pid) == os.getuid()
                assert os.readlink(f"/proc/{pid}/root") == "/"


def test_master_restarts_killed_daemon(instance):
    pid = int(status(instance)["authd"][0][0])
    os.kill(pid, signal.SIGKILL)

    def restarted():
        rows = status(instance).get("authd", [])
        return rows and rows[0][0] not in ("-", str(pid)) and rows[0][2] == "running"
    assert wait_for(restarted, timeout=20)
    assert not alive(pid)
    log = instance.log_text()
    assert f"pid={pid} killed by signal 9" in log and "restarting in" in log


def test_restart_gives_a_new_master(instance):
    old = int(status(instance)["master"][0][0])
    instance.ctl("restart")
    assert wait_for(lambda: not alive(old), timeout=10)
    st = all_running(instance)
    assert st and int(st["master"][0][0]) != old


def test_stop_after_master_was_killed(instance):
    """kill -9 of the master: `stop` still ends every process of the instance."""
    mpid = int(status(instance)["master"][0][0])
    os.kill(mpid, signal.SIGKILL)
    assert wait_for(lambda: not alive(mpid), timeout=10)
    stopped_cleanly(instance)


def test_two_instances_side_by_side(new_instance):
    a, b = new_instance(), new_instance()
    for inst in (a, b):
        inst.init()
        inst.start()
    sa, sb = all_running(a), all_running(b)
    assert sa and sb and sa["master"] != sb["master"]
    pids_a = {p for rows in sa.values() for (p, _, _) in rows}
    pids_b = {p for rows in sb.values() for (p, _, _) in rows}
    assert not pids_a & pids_b
    stopped_cleanly(a)
    assert all_running(b) == sb
    stopped_cleanly(b)


def test_start_reports_failing_daemon_and_leaves_nothing(tmp_parent):
    inst = Instance(tmp_parent)
    inst.init()
    # Valid syntax, but authd cannot use it: its start-up fails, not `check`.
    inst.set_conf("tern", "db_dir", "/nonexistent/tern-db")
    p = inst.ctl("start", check=False)
    err = one_line_error(p)
    assert "authd" in err and "tern.log" in err
    assert wait_for(lambda: not instance_procs(inst.dir), timeout=15)
    assert inst.ctl("status", check=False).returncode != 0


# ---------------------------------------------------------------- check / reload

def test_check_good_and_broken_config(tmp_parent):
    inst = Instance(tmp_parent)
    inst.init()
    assert inst.ctl("check").returncode == 0
    with open(inst.conf_path(), "a") as f:
        f.write("no_such_key = 1\n")
    n = len(open(inst.conf_path()).read().splitlines())
    inst.set_conf("authd", "log_level_of_nothing", "x")
    p = inst.ctl("check", check=False)
    assert p.returncode != 0
    assert f"{inst.dir}/tern.conf:{n}:" in p.stderr and "no_such_key" in p.stderr
    assert f"{inst.dir}/authd.conf:" in p.stderr
    assert p.stderr.count("no_such_key") == 1      # reported once, not once per daemon
    # start refuses a broken config and leaves nothing running.
    p = inst.ctl("start", check=False)
    assert p.returncode != 0 and f"{inst.dir}/tern.conf:{n}:" in p.stderr
    assert "not starting" in p.stderr
    assert not instance_procs(inst.dir)


def test_reload(instance):
    before = all_running(instance)
    assert before
    r = instance.ctl("reload")
    assert "reloaded" in r.stdout
    after = wait_for(lambda: all_running(instance), timeout=20)
    assert after and after["master"] == before["master"]
    for name, rows in before.items():
        if name == "master":
            continue
        # Most daemons re-read their config in place (same pid); network daemons
        # and the mail roles get a new generation (new pid, same sockets).
        if name in GENERATIONAL:
            assert after[name][0][0] != rows[0][0], name
        else:
            assert after[name] == rows, name
    log = instance.log_text()
    assert "reloading" in log
    # A broken config: reload is refused with file:line and nothing changes.
    with open(instance.conf_path(), "a") as f:
        f.write("bogus = 1\n")
    n = len(open(instance.conf_path()).read().splitlines())
    p = instance.ctl("reload", check=False)
    assert p.returncode != 0 and f"{instance.dir}/tern.conf:{n}:" in p.stderr
    assert "not reloaded" in p.stderr
    assert all_running(instance) == after


def test_port_in_use(tmp_parent):
    inst = Instance(tmp_parent)
    inst.init()
    if not any(os.path.exists(inst.conf_path(c)) for c in NETWORK_CONFS):
        pytest.skip("no network daemon in the process table yet")
    services = [s for s in ("smtp", "pop3", "imap")
                if os.path.exists(inst.conf_path({"smtp": "smtpd", "pop3": "pop3d",
                                                  "imap": "imapd"}[s]))]
    port = inst.port(services[0])
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", port))
    blocker.listen(1)
    try:
        err = one_line_error(inst.ctl("start", check=False))
        assert str(port) in err and "in use" in err and "port_base" in err
        assert not instance_procs(inst.dir)
    finally:
        blocker.close()
    inst.start()
    assert all_running(inst)
    stopped_cleanly(inst)


# ---------------------------------------------------------------- bad input

def test_unknown_subcommand():
    err = one_line_error(mailctl("frobnicate", check=False))
    assert "unknown command" in err and "--help" in err


@pytest.mark.parametrize("cmd", ["start", "stop", "status", "reload", "check", "restart"])
def test_missing_instance(tmp_parent, cmd):
    d = os.path.join(tmp_parent, "nothing-here")
    err = one_line_error(mailctl("-c", d, cmd, check=False))
    assert "mailctl init" in err
    assert not os.path.exists(d)


def test_not_running(tmp_parent):
    inst = Instance(tmp_parent)
    inst.init()
    p = inst.ctl("status", check=False)
    assert p.returncode != 0 and "not running" in one_line_error(p) and "start" in p.stderr
    p = inst.ctl("reload", check=False)
    assert "not running" in one_line_error(p)
    p = inst.ctl("stop", check=False)
    assert p.returncode == 0 and "not running" in p.stderr


# ---------------------------------------------------------------- supervision details

def test_restart_backoff_grows_and_is_capped(tmp_parent):
    inst = Instance(tmp_parent)
    inst.init()
    inst.set_conf("tern", "restart_backoff_max", "3s")
    inst.start()
    try:
        for _ in range(4):
            pid = status(inst)["authd"][0][0]
            os.kill(int(pid), signal.SIGKILL)

            def back(old=pid):
                rows = status(inst).get("authd", [])
                return rows and rows[0][0] not in ("-", old) and rows[0][2] == "running"
            assert wait_for(back, timeout=20)
        log = inst.log_text()
        delays = [int(line.split("restarting in ")[1].split()[0])
                  for line in log.splitlines() if "authd: pid=" in line and "restarting in" in line]
        assert delays == [500, 1000, 2000, 3000], delays
        assert all_running(inst)
    finally:
        stopped_cleanly(inst)


def test_instance_of_an_ordinary_user(tmp_parent):
    """Started by another user, everything runs as that user, unchrooted, and works."""
    import imaplib
    import smtplib
    owner = os.path.join(tmp_parent, "user")
    os.mkdir(owner)
    prefix = []
    if IS_ROOT:
        os.chown(owner, pwd.getpwnam("nobody").pw_uid, -1)
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    uid = pwd.getpwnam("nobody").pw_uid if IS_ROOT else os.getuid()
    inst = Instance(owner)

    def ctl(*args, input=None):
        p = subprocess.run([*prefix, MAILCTL, "-c", inst.dir, *args], input=input,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p
        return p
    p = subprocess.run([*prefix, MAILCTL, "init", inst.dir, "--domain", "example.test",
                        "--port-base", str(inst.port_base)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p
    ctl("user", "add", "u@example.test", input="pw-of-u\n")
    ctl("start")
    try:
        rows = [l.split() for l in ctl("status").stdout.splitlines()]
        assert len(rows) > 1 and all(r[3] == "running" for r in rows)
        for name, pid, user, _ in rows:
            assert uid_of(int(pid)) == uid, name
            assert os.readlink(f"/proc/{pid}/root") == "/", name
        if os.path.exists(inst.conf_path("smtpd")) and os.path.exists(inst.conf_path("imapd")):
            with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=15) as s:
                s.sendmail("x@remote.test", ["u@example.test"],
                           "Subject: as a user\r\n\r\nhello\r\n")
            new = os.path.join(inst.maildir("u@example.test"), "new")
            assert wait_for(lambda: os.listdir(new), timeout=15)
            m = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
            m.starttls(__import__("ssl")._create_unverified_context())
            m.login("u@example.test", "pw-of-u")
            m.select("INBOX")
            assert b"as a user" in m.fetch("1", "(BODY[])")[1][0][1]
            m.logout()
    finally:
        ctl("stop")
    assert wait_for(lambda: not instance_procs(inst.dir), timeout=15)


def test_make_run_demo(tmp_parent):
    """tools/run-demo (what `make run` does after building): creates the demo
    instance with a user whose printed password works, starts it, and is
    harmless to run again."""
    import imaplib
    import ssl
    demo = os.path.join(tmp_parent, "demo")
    base = Instance(tmp_parent).port_base
    env = dict(os.environ, TERN_DEMO_DIR=demo, TERN_DEMO_PORT_BASE=str(base))
    env.pop("TERN_CONFIG", None)
    run = [os.path.join(os.path.dirname(__file__), "..", "..", "tools", "run-demo"),
           os.path.dirname(MAILCTL)]
    try:
        p = subprocess.run(run, capture_output=True, text=True, timeout=120, env=env)
        assert p.returncode == 0, p
        pw = [l.split("password")[1].strip() for l in p.stdout.splitlines()
              if "demo@example.test" in l and "password" in l][0]
        assert len(pw) >= 12
        assert f"127.0.0.1:{base + 25}" in p.stdout
        ctx = ssl.create_default_context(cafile=os.path.join(demo, "tls", "cert.pem"))
        ctx.check_hostname = False
        m = imaplib.IMAP4("127.0.0.1", base + 143)
        m.starttls(ctx)
        assert m.login("demo@example.test", pw)[0] == "OK"
        m.logout()
        p = subprocess.run(run, capture_output=True, text=True, timeout=120, env=env)
        assert p.returncode == 0 and "already running" in p.stdout, p
        assert pw in p.stdout
    finally:
        mailctl("-c", demo, "stop", check=False)
    assert wait_for(lambda: not instance_procs(demo), timeout=15)


def test_install_into_destdir(tmp_parent):
    dest = os.path.join(tmp_parent, "dest")
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    p = subprocess.run([os.path.join(root, "tools", "install.sh"), dest, "/usr/sbin",
                        "/usr/lib/tern", "/usr/share/man", os.path.dirname(MAILCTL)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p
    assert os.access(os.path.join(dest, "usr/sbin/mailctl"), os.X_OK)
    assert os.readlink(os.path.join(dest, "usr/sbin/sendmail")) == "mailctl"
    assert os.access(os.path.join(dest, "usr/lib/tern/tern-authd"), os.X_OK)
    man = open(os.path.join(dest, "usr/share/man/man8/mailctl.8")).read()
    assert man.startswith(".TH MAILCTL 8")
    # Default configs: tern.conf with the installed defaults, one per daemon.
    share = os.path.join(dest, "usr/share/tern")
    tern_conf = open(os.path.join(share, "tern.conf")).read()
    assert "#port_base = 0" in tern_conf and "#listen = 0.0.0.0" in tern_conf
    for b in os.listdir(os.path.dirname(MAILCTL)):
        if b.startswith("tern-"):
            conf = open(os.path.join(share, b[5:] + ".conf")).read()
            assert conf.startswith(f"# {b[5:]}.conf"), b
    # Installed as sendmail, mailctl behaves as `mailctl sendmail`.
    p = subprocess.run([os.path.join(dest, "usr/sbin/sendmail"), "--help"],
                       capture_output=True, text=True, timeout=30)
    assert "sendmail" in p.stdout + p.stderr


def test_control_socket_is_private(instance):
    """Another user can neither read the status nor stop the instance."""
    if not IS_ROOT:
        pytest.skip("acting as another user needs root")
    sock = os.path.join(instance.dir, "run", "master.sock")
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    before = all_running(instance)
    for cmd in ("status", "stop", "reload"):
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            MAILCTL, "-c", instance.dir, cmd],
                           capture_output=True, text=True, timeout=60)
        assert "permission denied" in one_line_error(p), cmd
    assert all_running(instance) == before


def test_master_refuses_a_daemon_that_keeps_root(tmp_parent):
    """As root, a daemon that reports ready without dropping privileges is killed
    and `start` fails naming it (the master checks /proc, not the daemon's word)."""
    if not IS_ROOT:
        pytest.skip("privilege drop is only checked when started as root")
    bindir = os.path.join(tmp_parent, "bin")
    os.mkdir(bindir)
    shutil.copy(MAILCTL, bindir)
    fake = os.path.join(bindir, "fake-daemon")
    with open(fake, "w") as f:
        f.write('#!/bin/bash\n'
                'case " $* " in *" --print-config "*) echo "# fake"; exit 0;; '
                '*" --check "*) exit 0;; esac\n'
                'eval "printf 1 >&$TERN_READY_FD"\n'
                'while :; do sleep 1; done\n')
    os.chmod(fake, 0o755)
    for name in ("authd", "queued", "deliverd", "pop3d", "imapd", "smtpd", "httpd"):
        os.symlink(fake, os.path.join(bindir, f"tern-{name}"))
    inst = Instance(tmp_parent)
    ctl = os.path.join(bindir, "mailctl")
    run = lambda *a: subprocess.run([ctl, *a], capture_output=True, text=True, timeout=60)
    assert run("init", inst.dir, "--port-base", str(inst.port_base)).returncode == 0
    err = one_line_error(run("-c", inst.dir, "start"))
    assert "authd did not drop its privileges" in err and "tern-auth" in err
    assert wait_for(lambda: not instance_procs(inst.dir), timeout=15)
    assert run("-c", inst.dir, "status").returncode != 0
