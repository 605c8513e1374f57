"""An smtpd under test with its peers.

Two modes, same interface:
  * "real": a whole instance (`mailctl init/start`) with authd, queued and local
    delivery: messages are read back from the recipients' Maildirs.
  * "double": tern-smtpd started with listening sockets passed in
    TERN_LISTEN_FDS (as the master does), the real tern-authd (its user database
    made with mailctl) on run/auth.sock, and a Python double of queued on
    run/queue.sock (ternipc.py). Messages are read back from the double's spool,
    envelope included. Tests that make the queue misbehave (full, refusing,
    silent, restarting) use this mode; those that need authd down kill it.
"""
import json
import os
import pwd
import random
import select
import signal
import socket
import subprocess
import tempfile
import threading

import ternipc as ipc
from conftest import IS_ROOT, TERN_BIN, Instance, mailctl, port_open

DOMAIN = "example.test"
USERS = {"alice@example.test": "alice-secret", "bob@example.test": "bob-secret"}
ALIASES = {"postmaster@example.test": "alice@example.test",
           "sales@example.test": "bob@example.test"}
SMTPD = os.path.join(TERN_BIN, "tern-smtpd")


def ensure_account(name):
    if not IS_ROOT:
        return
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name], check=True)


def free_port_base():
    """A port base whose smtp/submission/smtps ports are free now. Other test
    runs may share the machine, so probe rather than count (bounded tries)."""
    for _ in range(50):
        # k*1000+500: our ports (k525, k965, k+1 087) never meet those of the
        # instances conftest numbers (m000 + standard ports).
        base = random.randrange(12, 29) * 1000 + 500
        if not any(port_open(base + p) for p in (25, 587, 465)):
            return base
    raise AssertionError("no free port base found")


# ---------------------------------------------------------------- doubles

class FakePeer:
    """A Unix-socket server answering ternipc messages from a handler."""

    def __init__(self, path):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                s, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            s.settimeout(None)
            self.conns.append(s)
            threading.Thread(target=self._serve, args=(ipc.Conn(s),), daemon=True).start()

    def _serve(self, conn):
        while True:
            try:
                m = conn.recv()
            except OSError:
                return
            if m is None:
                return
            reply = self.handle(m)
            if m.fd is not None:
                os.close(m.fd)
            if reply is not None:
                reply.id = m.id
                try:
                    conn.send(reply)
                except OSError:
                    return
                if reply.fd is not None:
                    os.close(reply.fd)

    def stop(self):
        self.stopping = True
        self.sock.close()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.thread.join(timeout=2)


class FakeQueued(FakePeer):
    """Keeps each committed message as spool/ID (bytes) + spool/ID.json (envelope)."""

    def __init__(self, path, spool):
        self.spool = spool
        self.status = ipc.QS_OK          # what QUEUE_COMMIT answers
        self.new_status = ipc.QS_OK      # what QUEUE_NEW answers
        self.stall = False               # never answer QUEUE_NEW
        self.counter = 0
        self.aborted = []
        self.lock = threading.Lock()
        super().__init__(path)

    def handle(self, m):
        if m.type == ipc.QUEUE_NEW_REQ:
            if self.stall:
                return None
            if self.new_status != ipc.QS_OK:
                return ipc.Msg(ipc.QUEUE_NEW_RES).u32(self.new_status).str("")
            with self.lock:
                self.counter += 1
                qid = "%016X" % (0xA000000 + self.counter)   # QUEUE_ID_LEN: smtpd checks it
            fd = os.open(os.path.join(self.spool, qid + ".tmp"), os.O_RDWR | os.O_CREAT, 0o600)
            return ipc.Msg(ipc.QUEUE_NEW_RES, fd=fd).u32(ipc.QS_OK).str(qid)
        if m.type == ipc.QUEUE_COMMIT_REQ:
            qid, sender, flags, envid, ret, client, user = (
                m.str(), m.str(), m.u32(), m.str(), m.u32(), m.str(), m.str())
            rcpts = [{"addr": m.str(), "notify": m.u32(), "orcpt": m.str()} for _ in range(m.u32())]
            if self.status != ipc.QS_OK:
                return ipc.Msg(ipc.QUEUE_COMMIT_RES).u32(self.status).str(qid).str("refused by test")
            env = {"qid": qid, "sender": sender, "flags": flags, "envid": envid, "ret": ret,
                   "client": client, "user": user, "rcpts": rcpts}
            base = os.path.join(self.spool, qid)
            with open(base + ".json", "w") as f:
                json.dump(env, f)
            os.rename(base + ".tmp", base)
            return ipc.Msg(ipc.QUEUE_COMMIT_RES).u32(ipc.QS_OK).str(qid).str("")
        if m.type == ipc.QUEUE_ABORT_REQ:
            qid = m.str()
            self.aborted.append(qid)
            try:
                os.unlink(os.path.join(self.spool, qid + ".tmp"))
            except OSError:
                pass
            return None
        raise AssertionError(f"fake queued: unexpected message {m.type}")


# ---------------------------------------------------------------- environments

class Message:
    def __init__(self, data, rcpts, sender=None, env=None):
        self.data = data        # the file as stored (our Received header first)
        self.rcpts = rcpts
        self.sender = sender
        self.env = env or {}

    def body_after_received(self):
        """The message as the client sent it: everything after our Received header."""
        assert self.data.startswith(b"Received: from "), self.data[:200]
        i = 0
        lines = self.data.split(b"\r\n")
        i = 1
        while lines[i].startswith(b"\t"):
            i += 1
        return b"\r\n".join(lines[i:])


SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def spawn_ready(argv, name, dir, env=None, user=None, pass_fds=(), preexec_fn=None):
    """Start a daemon the way the master does: readiness on TERN_READY_FD,
    stderr in DIR/log/NAME.err. Returns the process once it reported ready
    (bounded wait; a daemon that dies or stays silent fails the test)."""
    env = dict(env or os.environ)
    r, w = os.pipe()
    env["TERN_READY_FD"] = str(w)
    with open(os.path.join(dir, "log", name + ".err"), "ab") as err:
        proc = subprocess.Popen(argv, env=env, user=user, preexec_fn=preexec_fn,
                                pass_fds=list(pass_fds) + [w], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    os.close(w)
    ready, _, _ = select.select([r], [], [], 30)
    ok = ready and os.read(r, 1) == b"1"
    os.close(r)
    if not ok:
        proc.kill()
        proc.wait(timeout=10)
    return proc if ok else None


def no_leak_check_env():
    """LeakSanitizer cannot run in a chroot after setuid (no /proc, not
    dumpable); leaks are checked by the tests that run as an ordinary user."""
    env = dict(os.environ)
    if IS_ROOT:
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


class Daemon:
    """One daemon of a test directory: proc, stop(), log_text()."""
    name = None
    proc = None

    def stop(self):
        """SIGTERM; the daemon must exit 0 (and, under ASan, report nothing)."""
        proc, self.proc = self.proc, None
        if not proc:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
                raise AssertionError(f"tern-{self.name} ignored SIGTERM")
        log = self.log_text()
        for bad in SANITIZER_MARKS:
            assert bad not in log, log[-4000:]
        assert proc.returncode == 0, f"tern-{self.name} exited {proc.returncode}:\n{log[-4000:]}"

    def log_text(self):
        """The shared log, then this daemon's stderr."""
        out = ""
        for n in ("tern.log", self.name + ".err"):
            try:
                with open(os.path.join(self.dir, "log", n), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out


class SmtpdRunner(Daemon):
    """tern-smtpd in an instance directory, started the way the master starts
    it: listening sockets in TERN_LISTEN_FDS, readiness on TERN_READY_FD."""
    name = "smtpd"

    def __init__(self, dir, hostname, settings=None, as_user=None, host="127.0.0.1", nofile=None):
        self.dir = dir
        self.host = host
        self.nofile = nofile        # RLIMIT_NOFILE (soft and hard) for the daemon
        self.hostname = hostname
        self.as_user = as_user if IS_ROOT else None
        self.port_base = free_port_base()
        for sub in ("run", "log", "tls"):
            os.makedirs(os.path.join(dir, sub), exist_ok=True)
        conf = subprocess.run([SMTPD, "--print-config"], capture_output=True, text=True,
                              check=True).stdout
        with open(os.path.join(dir, "smtpd.conf"), "w") as f:
            f.write(conf)
            for k, v in (settings or {}).items():
                f.write(f"{k} = {v}\n")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", f"/CN={hostname}",
                        "-keyout", os.path.join(dir, "tls", "key.pem"),
                        "-out", os.path.join(dir, "tls", "cert.pem")],
                       check=True, capture_output=True)
        ensure_account("tern-smtpd")
        if self.as_user:
            # An ordinary user: no chroot, no identity change (and LeakSanitizer
            # works). The log file is made now: authd (root) may start first.
            pw = pwd.getpwnam(self.as_user)
            open(os.path.join(dir, "log", "tern.log"), "a").close()
            for sub in ("log", "log/tern.log", "tls", "tls/key.pem", "tls/cert.pem"):
                os.chown(os.path.join(dir, sub), pw.pw_uid, pw.pw_gid)

    def port(self, name):
        return self.port_base + Instance.PORTS[name]

    def start(self):
        socks = []
        for name in ("smtp", "submission", "smtps"):
            s = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET,
                              socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.host, self.port(name)))
            s.listen(64)
            socks.append((name, s))
        env = dict(os.environ) if self.as_user else no_leak_check_env()
        env["TERN_LISTEN_FDS"] = ",".join(f"{n}:{s.fileno()}" for n, s in socks)
        def limits():
            if self.nofile:
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        try:
            self.proc = spawn_ready([SMTPD, "-c", self.dir], "smtpd", self.dir, env,
                                    self.as_user, [s.fileno() for _, s in socks], limits)
        finally:
            for _, s in socks:
                s.close()
        assert self.proc, "tern-smtpd did not report ready:\n" + self.log_text()[-4000:]


class AuthdRunner(Daemon):
    """The real tern-authd for an smtpd test directory, against a user database
    made with mailctl (DOMAIN, USERS, ALIASES). Root-started, it drops to
    tern-auth chrooted into db/, as under the master."""
    name = "authd"

    def __init__(self, dir, settings=None):
        self.dir = dir
        os.makedirs(os.path.join(dir, "db"), exist_ok=True)
        os.chmod(os.path.join(dir, "db"), 0o755)
        conf = subprocess.run([os.path.join(TERN_BIN, "tern-authd"), "--print-config"],
                              capture_output=True, text=True, check=True).stdout
        # Wrong passwords are answered at once unless a test asks for the delay.
        settings = dict({"failure_delay": "0s"}, **(settings or {}))
        with open(os.path.join(dir, "authd.conf"), "w") as f:
            f.write(conf + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        self.ctl("domain", "add", DOMAIN)
        for user, pw in USERS.items():
            self.ctl("user", "add", user, input=pw + "\n")
        for alias, target in ALIASES.items():
            self.ctl("alias", "add", alias, target)

    def ctl(self, *args, **kw):
        return mailctl("-c", self.dir, *args, **kw)

    def start(self):
        assert not self.proc
        self.proc = spawn_ready([os.path.join(TERN_BIN, "tern-authd"), "-c", self.dir],
                                "authd", self.dir, no_leak_check_env())
        assert self.proc, "tern-authd did not report ready:\n" + self.log_text()[-4000:]

    def kill(self):
        """SIGKILL: authd is gone at once, as after a crash."""
        proc, self.proc = self.proc, None
        proc.kill()
        proc.wait(timeout=10)


class QueueDoubleEnv:
    """tern-smtpd and the real tern-authd, with a double of queued (FakeQueued)."""
    mode = "double"

    def __init__(self, parent, settings=None, as_user=None, host="127.0.0.1", nofile=None,
                 authd_settings=None):
        self.hostname = "mx.example.test"
        self.host = host
        self.dir = tempfile.mkdtemp(prefix="smtpd", dir=parent)
        os.chmod(self.dir, 0o755)
        with open(os.path.join(self.dir, "tern.conf"), "w") as f:
            # DNS only on loopback (a closed port: lookups fail at once, never
            # leaving the machine); the SPF/DKIM/DMARC tests bring their own server.
            f.write(f"hostname = {self.hostname}\nlog = file\nlog_level = debug\n"
                    "dns_server = 127.0.0.1:9\n")
        self.smtpd = SmtpdRunner(self.dir, self.hostname, settings, as_user, host, nofile)
        os.chmod(os.path.join(self.dir, "run"), 0o755)
        self.spool = os.path.join(self.dir, "spool")
        os.makedirs(self.spool)
        self.authd = AuthdRunner(self.dir, authd_settings)
        if self.smtpd.as_user:
            # authd serves the instance's owner: an ordinary user's instance.
            pw = pwd.getpwnam(self.smtpd.as_user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.queued = None
        try:
            self.authd.start()
            self.queued = FakeQueued(os.path.join(self.dir, "run", "queue.sock"), self.spool)
            self.smtpd.start()
        except BaseException:
            self.close()
            raise

    def port(self, name):
        return self.smtpd.port(name)

    def cert(self):
        return os.path.join(self.dir, "tls", "cert.pem")

    def smtpd_pid(self):
        return self.smtpd.proc.pid

    def run_dir(self):
        return os.path.join(self.dir, "run")

    def close(self):
        try:
            self.smtpd.stop()
        finally:
            try:
                self.authd.stop()
            finally:
                if self.queued:
                    self.queued.stop()

    def log_text(self):
        return self.smtpd.log_text()

    def messages(self):
        """Every committed message, oldest first."""
        out = []
        for name in sorted(os.listdir(self.spool)):
            if "." in name:
                continue
            with open(os.path.join(self.spool, name), "rb") as f:
                data = f.read()
            with open(os.path.join(self.spool, name + ".json")) as f:
                env = json.load(f)
            out.append(Message(data, [r["addr"] for r in env["rcpts"]], env["sender"], env))
        return out

    def for_user(self, user):
        """Messages that reach user's mailbox (directly or by alias)."""
        return [m for m in self.messages()
                if any(ALIASES.get(r.lower(), r.lower()) == user for r in m.rcpts)]

    def uncommitted(self):
        return [n for n in os.listdir(self.spool) if n.endswith(".tmp")]


class MaildirReader:
    """Messages as local delivery stored them (Return-Path, Delivered-To, then ours)."""

    def _files(self):
        out = []
        for user in USERS:
            local, dom = user.split("@")
            for sub in ("new", "cur"):
                d = os.path.join(self.mail_dir, dom, local, sub)
                for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                    p = os.path.join(d, name)
                    out.append((os.stat(p).st_mtime_ns, user, p))
        return sorted(out)

    def messages(self):
        out = []
        for _, user, p in self._files():
            with open(p, "rb") as f:
                data = f.read()
            # Maildir files use LF line ends; smtpd accepted only CRLF ones (bare
            # CR/LF are refused), so turning LF back into CRLF is lossless.
            assert b"\r" not in data, p
            data = data.replace(b"\n", b"\r\n")
            i = data.find(b"Received: from ")
            out.append(Message(data[i:] if i >= 0 else data, [user]))
        return out

    def for_user(self, user):
        return [m for m in self.messages() if m.rcpts == [user]]

    def uncommitted(self):
        return []


class RealEnv(MaildirReader):
    """A full instance: messages are read from Maildirs after local delivery."""
    mode = "real"

    def __init__(self, parent, settings=None, authd_settings=None):
        self.inst = Instance(parent)
        self.inst.init()
        for k, v in (settings or {}).items():
            self.inst.set_conf("smtpd", k, v)
        for k, v in (authd_settings or {}).items():
            self.inst.set_conf("authd", k, v)
        for user, pw in USERS.items():
            self.inst.add_user(user, pw)
        for alias, target in ALIASES.items():
            self.inst.ctl("alias", "add", alias, target)
        self.inst.start()
        self.dir = self.inst.dir
        self.hostname = self.inst.hostname
        self.mail_dir = os.path.join(self.dir, "mail")

    def port(self, name):
        return self.inst.port(name)

    def smtpd_pid(self):
        """The running smtpd (after a reload the old one is listed as draining)."""
        out = self.inst.ctl("status").stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 4 and f[0] == "smtpd" and f[3] == "running":
                return int(f[1])
        raise AssertionError("no running smtpd in mailctl status:\n" + out)

    def run_dir(self):
        return os.path.join(self.dir, "run")

    def cert(self):
        return self.inst.cert()

    def close(self):
        self.inst.stop()

    def log_text(self):
        return self.inst.log_text()

def make_env(parent, settings=None, fake=False, as_user=None, authd_settings=None):
    """fake: the queue is a double (QueueDoubleEnv); so is it for a smtpd run
    as an ordinary user (the master would start it as root)."""
    if fake or as_user:
        return QueueDoubleEnv(parent, settings, as_user=as_user, authd_settings=authd_settings)
    return RealEnv(parent, settings, authd_settings)
