"""Shared fixtures for tern's end-to-end tests.

Real daemons, real clients. TERN_BIN points at the programs under test
(build/bin, or build-asan/bin for the sanitizer run). Every instance lives in a
0755 temp directory (daemons running under their own accounts must be able to
reach it) on its own port base below 32768, and is stopped at the end.
"""
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

TERN_BIN = os.environ.get("TERN_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
MAILCTL = os.path.join(TERN_BIN, "mailctl")
IS_ROOT = os.geteuid() == 0

# Start at a different base in each test process: several engineers' runs may
# share the machine. The parallel workers of one run (pytest-xdist) each take
# their own share of the bases, so two of them never race for the same one.
_port_bases = itertools.count(os.getpid() % 19)
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_NWORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
_MY_SHARE = int(_WORKER[2:]) % _NWORKERS if _WORKER.startswith("gw") and _WORKER[2:].isdigit() \
    else None
STANDARD_PORTS = (25, 587, 465, 110, 995, 143, 993, 80, 443, 24)  # 24: a mailbox host's internal port


def _ports_free(base):
    """Every port of the base can be bound on 127.0.0.1 right now."""
    for p in STANDARD_PORTS:
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", base + p))
        except OSError:
            return False
        finally:
            s.close()
    return True


def next_port_base():
    """A fresh port base per instance among 11000, 12000, ... 29000 (cycling),
    skipping bases whose ports another program holds now (bounded tries)."""
    for _ in range(19 * _NWORKERS):
        i = next(_port_bases) % 19
        if _MY_SHARE is not None and i % _NWORKERS != _MY_SHARE:
            continue
        base = 11000 + 1000 * i
        if _ports_free(base):
            return base
    return base


def mailctl(*args, input=None, check=True, timeout=60, env=None, prefix=()):
    """Run mailctl (under the command prefix, e.g. ip netns exec NS); returns
    CompletedProcess with text stdout/stderr."""
    e = dict(os.environ)
    e.pop("TERN_CONFIG", None)
    if env:
        e.update(env)
    p = subprocess.run([*prefix, MAILCTL, *args], input=input, capture_output=True, text=True,
                       timeout=timeout, env=e)
    if check and p.returncode != 0:
        raise AssertionError(f"mailctl {' '.join(args)} exited {p.returncode}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def key_pipe(env, var, key, keep):
    """Pass key to a daemon as the master does (common/daemon.h): a pipe whose
    read end is named by env[var] and added to keep (pass_fds); the caller
    closes the read end once the process started."""
    rd, wr = os.pipe()
    os.write(wr, key)
    os.close(wr)
    env[var] = str(rd)
    keep.append(rd)
    return rd


def wait_for(pred, timeout=10.0, interval=0.05):
    """Poll pred() until true or timeout (bounded); returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def proc_gone(pid):
    """The process has exited (a zombie not yet reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def proc_children(ppid):
    """Pids whose parent is ppid (a mail role's session processes)."""
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            if int(st.rsplit(")", 1)[1].split()[1]) == ppid:
                kids.append(int(d))
    return kids


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Instance:
    """One tern instance made with `mailctl init` in a private directory."""

    PORTS = {"smtp": 25, "submission": 587, "smtps": 465, "pop3": 110,
             "pop3s": 995, "imap": 143, "imaps": 993, "http": 80, "https": 443,
             "smtp-internal": 24}

    def __init__(self, parent, domain="example.test", hostname="mx.example.test",
                 port_base=None):
        self.port_base = port_base or next_port_base()
        # A module's instances share one parent and the bases cycle, so a base
        # may come round again: the directory gets a suffix then.
        self.dir = os.path.join(parent, f"inst{self.port_base}")
        n = 1
        while os.path.exists(self.dir):
            n += 1
            self.dir = os.path.join(parent, f"inst{self.port_base}-{n}")
        self.domain = domain
        self.hostname = hostname
        self.started = False
        self.prefix = ()  # command mailctl runs under (a network namespace)

    def port(self, name):
        return self.port_base + self.PORTS[name]

    def ctl(self, *args, **kw):
        return mailctl("-c", self.dir, *args, prefix=self.prefix, **kw)

    def init(self, *extra):
        r = mailctl("init", self.dir, "--hostname", self.hostname, "--domain",
                    self.domain, "--port-base", str(self.port_base), *extra)
        # Tests never use the machine's resolver: DNS goes to a closed loopback
        # port (fails at once) unless a test starts its own server. Mail from
        # loopback clients skips SPF/DKIM/DMARC unless a test clears this.
        self.set_conf("tern", "dns_server", "127.0.0.1:9")
        self.set_conf("smtpd", "trusted_networks", "127.0.0.0/8, ::1")
        return r

    def start(self):
        # Another test run on the machine may take a port between our probe and
        # the bind: move to another base (bounded) rather than fail the test.
        for _ in range(3):
            r = self.ctl("start", check=False)
            if r.returncode == 0 or "already in use" not in r.stderr:
                break
            self.port_base = next_port_base()
            self.set_conf("tern", "port_base", str(self.port_base))
        if r.returncode != 0:
            raise AssertionError(f"mailctl start exited {r.returncode}\nstderr: {r.stderr}")
        self.started = True
        return r

    def stop(self):
        if self.started:
            self.ctl("stop", check=False)
            self.started = False

    def add_user(self, address, password):
        return self.ctl("user", "add", address, input=password + "\n")

    def conf_path(self, name="tern"):
        return os.path.join(self.dir, f"{name}.conf")

    def set_conf(self, name, key, value):
        """Set key = value in NAME.conf (replacing an existing line)."""
        path = self.conf_path(name)
        with open(path) as f:
            lines = f.read().splitlines()
        lines = [l for l in lines if not l.split("=")[0].strip().lstrip("#").strip() == key]
        lines.append(f"{key} = {value}")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def log_text(self):
        path = os.path.join(self.dir, "log", "tern.log")
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def maildir(self, address):
        local, domain = address.split("@")
        return os.path.join(self.dir, "mail", domain, local)

    def cert(self):
        return os.path.join(self.dir, "tls", "cert.pem")


@pytest.fixture
def tmp_parent():
    """A 0755 temp directory (reachable by the daemons' accounts), removed after."""
    d = tempfile.mkdtemp(prefix="tern-e2e-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def instance(tmp_parent):
    """An initialised, started instance with domain example.test."""
    inst = Instance(tmp_parent)
    inst.init()
    inst.start()
    yield inst
    inst.stop()


@pytest.fixture
def new_instance(tmp_parent):
    """Factory: make more instances; all are stopped at the end."""
    made = []

    def make(**kw):
        inst = Instance(tmp_parent, **kw)
        made.append(inst)
        return inst
    yield make
    for inst in made:
        inst.stop()
