"""Configuration: `mailctl check` validates every value with the daemons' own
code (type, range, syntax) and reports each problem as file:line; old setting
names are read with a warning; plaintext authentication follows one setting
and one rule in smtpd, pop3d and imapd."""
import base64
import imaplib
import os
import poplib
import shutil
import smtplib
import socket
import subprocess

import pytest

from conftest import IS_ROOT, TERN_BIN, Instance, mailctl
from netns import Netns


def conf_line(inst, name, key):
    """Line number of `key = ...` in NAME.conf."""
    with open(inst.conf_path(name)) as f:
        for i, line in enumerate(f, 1):
            if line.split("=")[0].strip() == key:
                return i
    raise AssertionError(f"{key} not in {name}.conf")


BAD_VALUES = [
    # file, key, value, what check must say
    ("tern", "dns_server", "not a host:port", 'dns_server: "not a host:port" is not HOST:PORT'),
    ("tern", "listen", "127.0.0.1, localhost", 'listen: "localhost" is not an IPv4 or IPv6'),
    ("tern", "hostname", "mx..example", 'hostname: "mx..example" is not a domain name'),
    ("tern", "port_base", "65000", "port_base must be from 0 to 64540, not 65000"),
    ("smtpd", "max_errors", "0", "max_errors must be from 1 to 1000, not 0"),
    ("smtpd", "trusted_networks", "10.0.0.0/33", 'trusted_networks: "10.0.0.0/33" has a bad prefix'),
    ("smtpd", "spf_overrides", "a.test=maybe", 'spf_overrides: "a.test=maybe" is not domain=reject,mark'),
    ("pop3d", "max_command_line", "32", "max_command_line must be from 64 to 64k, not 32"),
    ("imapd", "max_sessions_per_user", "0", "max_sessions_per_user must be from 1 to 100000"),
    ("authd", "hash_threads", "100", "hash_threads must be from 1 to 64, not 100"),
    ("deliverd", "relayhost", "[smart.example", 'relayhost: "[smart.example" is not host'),
    ("deliverd", "smtp_port", "70000", "smtp_port must be from 1 to 65535, not 70000"),
    ("queued", "maximal_backoff_time", "1m", "maximal_backoff_time (1m) must not be below "
                                             "minimal_backoff_time (5m)"),
]


def test_check_reports_every_bad_value_with_file_and_line(instance_stopped):
    inst = instance_stopped
    for name, key, value, _ in BAD_VALUES:
        inst.set_conf(name, key, value)
    r = inst.ctl("check", check=False)
    assert r.returncode != 0
    for name, key, value, want in BAD_VALUES:
        where = f"{inst.conf_path(name)}:{conf_line(inst, name, key)}: "
        assert any(l.startswith(where) and want in l for l in r.stderr.splitlines()), \
            (where + want, r.stderr)
    assert f"{len(BAD_VALUES)} errors" in r.stderr
    # start refuses the same configuration and starts nothing
    s = inst.ctl("start", check=False)
    assert s.returncode != 0 and "not starting" in s.stderr
    assert not os.path.exists(os.path.join(inst.dir, "run", "master.pid")) or \
        inst.ctl("status", check=False).returncode != 0


SITE_CASES = [
    # settings of tern.conf, the key whose line the error names, what check says
    ({"role": "frontend"}, "role", "role = frontend needs the site's shared directory"),
    ({"role": "frontend"}, "role", "role = frontend needs mailbox_hosts"),
    ({"directory": "pgsql", "directory_pgsql": "host=127.0.0.1 password=secret"},
     "directory_pgsql", "directory_pgsql must not hold a password"),
    ({"directory": "pgsql", "directory_pgsql": "host=127.0.0.1 dbname='tern"},
     "directory_pgsql", "directory_pgsql is not a libpq connection string"),
    ({"directory": "pgsql", "directory_password_file": "no-such-file"},
     "directory_password_file", "no-such-file"),
    ({"mailbox_host_name": "mb1", "mailbox_hosts": "mb1=127.0.0.1:2024"},
     "mailbox_hosts", "mailbox_hosts names this host itself (mb1)"),
    ({"mailbox_hosts": "mb2=127.0.0.1:2024, MB2=127.0.0.1:3024"},
     "mailbox_hosts", "mailbox_hosts names mb2 twice"),
]


@pytest.mark.parametrize("settings,key,want", SITE_CASES)
def test_check_validates_the_site_and_directory_settings(instance_stopped, settings, key, want):
    """What the schema cannot check key by key: the role against the
    directory and mailbox hosts, the pgsql connection string and password
    file, the mailbox hosts against this host's own name."""
    inst = instance_stopped
    for k, v in settings.items():
        inst.set_conf("tern", k, v)
    r = inst.ctl("check", check=False)
    assert r.returncode != 0
    where = f"{inst.conf_path('tern')}:{conf_line(inst, 'tern', key)}: "
    assert any(l.startswith(where) and want in l for l in r.stderr.splitlines()), \
        (where + want, r.stderr)


SITE_SECRET = "site-secret-1234567890"


def write_site_secret(inst, text=SITE_SECRET + "\n", mode=0o600):
    path = os.path.join(inst.dir, "site.secret")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    inst.set_conf("tern", "site_secret_file", "site.secret")
    return path


SECRET_CASES = [
    # site.secret (None: no site_secret_file), its mode, the key check names, what it says
    (None, 0o600, "role", "role = mailbox needs site_secret_file"),
    ("", 0o600, "site_secret_file", "holds 0 characters, fewer than 16"),
    ("short\n", 0o600, "site_secret_file", "holds 5 characters, fewer than 16"),
    (SITE_SECRET + "\n", 0o644, "site_secret_file", "is readable by others (mode 0644"),
    ("missing", 0o600, "site_secret_file", "cannot open site_secret_file"),
]


@pytest.mark.parametrize("text,mode,key,want", SECRET_CASES)
def test_check_wants_a_usable_site_secret_on_a_mailbox_host(instance_stopped, text, mode,
                                                            key, want):
    """role = frontend or mailbox: the hosts authenticate each other with the
    site secret, so check names a missing, unreadable, short or world-readable
    one instead of the relay failing later, one 4xx at a time."""
    inst = instance_stopped
    inst.set_conf("tern", "role", "mailbox")
    inst.set_conf("tern", "mailbox_host_name", "mb1")
    if text is not None:
        path = write_site_secret(inst, text, mode)
        if text == "missing":
            os.unlink(path)
    r = inst.ctl("check", check=False)
    assert r.returncode != 0
    where = f"{inst.conf_path('tern')}:{conf_line(inst, 'tern', key)}: "
    assert any(l.startswith(where) and want in l for l in r.stderr.splitlines()), \
        (where + want, r.stderr)
    assert SITE_SECRET not in r.stderr


def test_check_accepts_a_frontend_and_a_mailbox_host(instance_stopped):
    inst = instance_stopped
    write_site_secret(inst)
    for k, v in {"role": "frontend", "directory": "pgsql",
                 "directory_pgsql": "host=127.0.0.1 dbname=tern",
                 "mailbox_hosts": "mb1=127.0.0.1:2024, mb2=[::1]:2024"}.items():
        inst.set_conf("tern", k, v)
    r = inst.ctl("check", check=False)
    assert r.returncode == 0 and "configuration ok" in r.stdout, r.stderr
    inst.set_conf("tern", "role", "mailbox")
    inst.set_conf("tern", "mailbox_host_name", "mb1")
    inst.set_conf("tern", "mailbox_hosts", "")
    r = inst.ctl("check", check=False)
    assert r.returncode == 0 and "configuration ok" in r.stdout, r.stderr


def test_daemon_refuses_an_out_of_range_value_itself(instance_stopped):
    """The daemon reads its file with the same checks: no silent clamping."""
    inst = instance_stopped
    inst.set_conf("pop3d", "max_sessions_per_ip", "0")
    p = subprocess.run([os.path.join(TERN_BIN, "tern-pop3d"), "-f", "-c", inst.dir],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert f"pop3d.conf:{conf_line(inst, 'pop3d', 'max_sessions_per_ip')}: " \
           "max_sessions_per_ip must be from 1 to 1000000, not 0" in p.stderr


def test_old_names_are_read_with_a_warning(instance_stopped):
    inst = instance_stopped
    old = [("smtpd", "plaintext_auth_loopback", "yes",
            'write "plaintext_auth_networks = 127.0.0.0/8, ::1" instead'),
           ("pop3d", "plaintext_loopback", "yes",
            'write "plaintext_auth_networks = 127.0.0.0/8, ::1" instead'),
           ("imapd", "plaintext_login", "yes",
            'write "plaintext_auth_networks = 127.0.0.0/8, ::1" instead'),
           ("pop3d", "max_command_length", "1k", 'write "max_command_line = 1k" instead'),
           ("imapd", "max_line", "16k", 'write "max_command_line = 16k" instead'),
           ("imapd", "max_login_clients", "500", 'write "max_sessions = 500" instead')]
    for name, key, value, _ in old:
        inst.set_conf(name, key, value)
    r = inst.ctl("check")
    assert f"configuration ok, {len(old)} warnings" in r.stdout
    for name, key, value, want in old:
        where = f"{inst.conf_path(name)}:{conf_line(inst, name, key)}: warning: {key} is an old name"
        assert any(l.startswith(where) and want in l for l in r.stderr.splitlines()), \
            (where, r.stderr)
    # Both names at once is an error, not a guess.
    inst.set_conf("imapd", "max_command_line", "8k")
    r = inst.ctl("check", check=False)
    line = conf_line(inst, "imapd", "max_command_line")
    assert r.returncode != 0
    assert f'imapd.conf:{line}: "max_command_line" already set on line ' in r.stderr, r.stderr


@pytest.fixture
def instance_stopped(tmp_parent):
    inst = Instance(tmp_parent)
    inst.init()
    yield inst
    inst.stop()


# ---------------------------------------------------------------- plaintext auth

OUTSIDE = "192.0.2.30"   # a client address that is not loopback (inside the namespace)
USER, PASSWORD = "carol@example.test", "carol-pw-123"


@pytest.fixture(scope="module")
def ns():
    if not (IS_ROOT and shutil.which("ip")):
        pytest.skip("needs root (network namespace) and ip")
    n = Netns("cfg", [OUTSIDE])
    yield n
    n.delete()


def smtp_auth(port, source):
    """AUTH offered in EHLO?, and the reply to AUTH PLAIN without TLS."""
    with smtplib.SMTP(timeout=20, source_address=(source, 0)) as s:
        s.connect("127.0.0.1", port)
        s.ehlo("client.test")
        offered = s.has_extn("auth")
        cred = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        code, _ = s.docmd("AUTH", "PLAIN " + cred)
        return offered, code


def pop3_from(port, source):
    """The reply to USER, or to PASS when USER was accepted, without TLS."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(source, 0))
    f = sock.makefile("rwb")

    def cmd(line):
        f.write(line.encode() + b"\r\n")
        f.flush()
        return f.readline().decode()
    try:
        assert f.readline().startswith(b"+OK")
        u = cmd(f"USER {USER}")
        if not u.startswith("+OK"):
            return u
        return cmd(f"PASS {PASSWORD}")
    finally:
        sock.close()


def imap_from(port, source):
    """(LOGINDISABLED advertised?, LOGIN result: "OK" or the NO text)."""
    class Bound(imaplib.IMAP4):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout,
                                            source_address=(source, 0))
    m = Bound("127.0.0.1", port, timeout=20)
    try:
        disabled = "LOGINDISABLED" in m.capabilities
        try:
            m.login(USER, PASSWORD)
            return disabled, "OK"
        except imaplib.IMAP4.error as e:
            return disabled, str(e)
    finally:
        try:
            m.logout()
        except Exception:
            pass


def outcomes(ns, inst, source):
    offered, code = ns.run(smtp_auth, inst.port("submission"), source)
    pop = ns.run(pop3_from, inst.port("pop3"), source)
    disabled, imap = ns.run(imap_from, inst.port("imap"), source)
    return {"smtp": (offered, code), "pop3": pop.split()[0], "imap": (disabled, imap)}


@pytest.fixture
def login_instance(new_instance, ns):
    inst = new_instance()
    inst.init()
    inst.prefix = ns.prefix
    inst.add_user(USER, PASSWORD)
    return inst


def test_plaintext_auth_one_setting_one_rule(login_instance, ns):
    """plaintext_auth_networks in all three daemons: loopback allowed, a client
    outside the listed networks refused by each (imapd used to allow any
    address once plaintext_login was set); then a listed outside network."""
    inst = login_instance
    for d in ("smtpd", "pop3d", "imapd"):
        inst.set_conf(d, "plaintext_auth_networks", "127.0.0.0/8, ::1")
    inst.start()
    inside = outcomes(ns, inst, "127.0.0.1")
    assert inside == {"smtp": (True, 235), "pop3": "+OK", "imap": (False, "OK")}, inside
    outside = outcomes(ns, inst, OUTSIDE)
    assert outside["smtp"] == (False, 538), outside
    assert outside["pop3"] == "-ERR", outside
    assert outside["imap"][0] and "PRIVACYREQUIRED" in outside["imap"][1], outside
    inst.stop()
    for d in ("smtpd", "pop3d", "imapd"):
        inst.set_conf(d, "plaintext_auth_networks", "192.0.2.0/24")
    inst.start()
    assert outcomes(ns, inst, OUTSIDE) == {"smtp": (True, 235), "pop3": "+OK",
                                          "imap": (False, "OK")}
    lo = outcomes(ns, inst, "127.0.0.1")
    assert lo["smtp"] == (False, 538) and lo["pop3"] == "-ERR" and lo["imap"][0], lo


def test_old_plaintext_names_mean_loopback_only(login_instance, ns):
    """plaintext_login = yes (imapd's old name) no longer opens every address."""
    inst = login_instance
    inst.set_conf("smtpd", "plaintext_auth_loopback", "yes")
    inst.set_conf("pop3d", "plaintext_loopback", "yes")
    inst.set_conf("imapd", "plaintext_login", "yes")
    inst.start()
    assert outcomes(ns, inst, "127.0.0.1") == {"smtp": (True, 235), "pop3": "+OK",
                                              "imap": (False, "OK")}
    outside = outcomes(ns, inst, OUTSIDE)
    assert outside["smtp"] == (False, 538) and outside["pop3"] == "-ERR" and \
        "PRIVACYREQUIRED" in outside["imap"][1], outside
    assert "plaintext_login is an old name" in inst.log_text()


# ------------------------------------------------- directories the accounts need

@pytest.mark.skipif(not IS_ROOT, reason="accounts differ from the caller only as root")
def test_init_names_the_account_and_the_directory_in_its_way(tmp_parent):
    """mailctl init under a 0700 directory (what mktemp -d makes) fails at once,
    naming the account, the path it needs and the directory to change."""
    locked = os.path.join(tmp_parent, "locked")
    os.mkdir(locked, 0o700)
    inst = Instance(locked)
    r = mailctl("init", inst.dir, "--domain", "example.test", "--port-base",
                str(inst.port_base), check=False)
    assert r.returncode != 0
    for account, path in (("tern-queued", "spool"), ("tern-vmail", "mail")):
        want = f"account {account} cannot reach {inst.dir}/{path}"
        assert any(want in l and f"{locked} (mode 0700, owner root)" in l and
                   f"chmod o+x {locked}" in l for l in r.stderr.splitlines()), r.stderr
    assert not os.path.exists(inst.dir)


@pytest.mark.skipif(not IS_ROOT, reason="accounts differ from the caller only as root")
def test_check_and_start_name_the_account_and_the_directory(instance_stopped, tmp_parent):
    inst = instance_stopped
    os.chmod(tmp_parent, 0o700)
    try:
        r = inst.ctl("check", check=False)
        assert r.returncode != 0
        assert f"account tern-queued cannot reach {inst.dir}/spool (spool_dir): " \
               f"{tmp_parent} (mode 0700" in r.stderr, r.stderr
        assert f"account tern-vmail cannot reach {inst.dir}/mail (mail_dir)" in r.stderr
        s = inst.ctl("start", check=False)
        assert s.returncode != 0 and "account tern-queued cannot reach" in s.stderr, s.stderr
    finally:
        os.chmod(tmp_parent, 0o755)
    assert inst.ctl("check").returncode == 0
