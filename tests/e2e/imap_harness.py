"""Running tern-imapd (both roles) for end-to-end tests.

Until `mailctl start` and the real authd are on main, this starts the two
imapd roles itself, exactly as the master would (TERN_LISTEN_FDS, TERN_READY_FD,
TERN_SECRET_FD), and serves the auth channel (common/auth_proto.h) with a small
stand-in for authd that checks a fixed user table and issues real login tokens.
The daemons under test are the real binaries; only their peer is simulated.
"""
import hashlib
import hmac
import os
import pwd
import select
import signal
import socket
import struct
import subprocess
import threading
import time

from conftest import TERN_BIN, IS_ROOT, next_port_base, wait_for

IMAPD = os.path.join(TERN_BIN, "tern-imapd")

AUTH_LOGIN_REQ = 100
AUTH_LOGIN_RES = 101
AUTH_USER_REQ = 108
AUTH_USER_RES = 109
T_U32, T_U64, T_STR, T_BYTES = 1, 2, 3, 4


# ---- IPC framing (common/ipc.h) ----

def ipc_encode(mtype, mid, fields):
    payload = b""
    for tag, val in fields:
        if tag == T_U32:
            data = struct.pack(">I", val)
        elif tag == T_U64:
            data = struct.pack(">Q", val)
        else:
            data = val if isinstance(val, bytes) else val.encode()
        payload += struct.pack(">BI", tag, len(data)) + data
    return struct.pack(">IHBBI", len(payload), mtype, 1, 0, mid) + payload


def ipc_fields(payload):
    out, pos = [], 0
    while pos < len(payload):
        tag, n = struct.unpack(">BI", payload[pos:pos + 5])
        out.append((tag, payload[pos + 5:pos + 5 + n]))
        pos += 5 + n
    return out


class FakeAuthd:
    """Serves AUTH_LOGIN_REQ on RUN/auth.sock from a {user: password} table."""

    def __init__(self, path, secret, users, quotas=None):
        self.path, self.secret, self.users = path, secret, users
        self.quotas = quotas or {}
        self.requests = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(path):
            os.unlink(path)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(16)
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def token(self, service, user):
        expiry = str(int(time.time()) + 300)
        mac = hmac.new(self.secret, f"{service}\n{user}\n{expiry}".encode(), hashlib.sha256)
        return mac.hexdigest() + "." + expiry

    def answer(self, conn, mtype, mid, payload):
        if mtype == AUTH_USER_REQ:
            user = ipc_fields(payload)[0][1].decode()
            res = [(T_U32, 1 if user in self.users else 0), (T_U64, self.quotas.get(user, 0))]
            conn.sendall(ipc_encode(AUTH_USER_RES, mid, res))
            return
        if mtype != AUTH_LOGIN_REQ:
            return
        self.requests += 1
        f = [v.decode() for _, v in ipc_fields(payload)]
        service, user, password = f[0], f[1], f[2]
        canon = user.lower()
        if self.users.get(canon) == password:
            res = [(T_U32, 0), (T_STR, canon), (T_STR, self.token(service, canon))]
        else:
            res = [(T_U32, 1), (T_STR, ""), (T_STR, "")]
        conn.sendall(ipc_encode(AUTH_LOGIN_RES, mid, res))

    def serve(self, conn):
        buf = b""
        with conn:
            while not self.stop:
                r, _, _ = select.select([conn], [], [], 0.2)
                if not r:
                    continue
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                while len(buf) >= 12:
                    n, mtype, _, _, mid = struct.unpack(">IHBBI", buf[:12])
                    if len(buf) < 12 + n:
                        break
                    self.answer(conn, mtype, mid, buf[12:12 + n])
                    buf = buf[12 + n:]

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def close(self):
        self.stop = True
        self.sock.close()


def ensure_account(name):
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", name], check=True)


def chown_vmail(path):
    if not IS_ROOT:
        return
    pw = pwd.getpwnam("tern-vmail")
    for root, dirs, files in os.walk(path):
        for p in [root] + [os.path.join(root, f) for f in files]:
            try:
                os.chown(p, pw.pw_uid, pw.pw_gid)
            except FileNotFoundError:
                pass  # a running session moved it (new/ -> cur/) meanwhile


class ImapServer:
    """An instance directory with tern-imapd's two roles running."""

    def __init__(self, parent, users=None, conf=None, port_base=None, instance_dir=None,
                 secret=None, quotas=None):
        """instance_dir: run inside an existing instance (its tern.conf, mail and
        run directories) whose authd already serves run/auth.sock with secret."""
        self.port_base = port_base or next_port_base()
        self.dir = instance_dir or os.path.join(parent, f"imap{self.port_base}")
        self.shared = instance_dir is not None
        self.quotas = quotas
        self.users = users or {"alice@example.test": "secret-a", "bob@example.test": "secret-b"}
        self.conf = conf or {}
        self.procs = []
        self.started_once = False
        self.secret = secret or os.urandom(32)
        self.auth = None
        self.imap_port = self.port_base + 143
        self.imaps_port = self.port_base + 993

    # -- set-up --
    def write_instance(self):
        for d in ("mail", "run", "log", "db", "spool", "tls"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        os.chmod(self.dir, 0o755)
        if not self.shared:
            self._write_tern_conf()
        self._write_imapd_conf()

    def _write_tern_conf(self):
        with open(os.path.join(self.dir, "tern.conf"), "w") as f:
            f.write(f"hostname = imap.example.test\nport_base = {self.port_base}\n"
                    "listen = 127.0.0.1\nlog = file\nlog_level = debug\n")

    def _write_imapd_conf(self):
        cfg = subprocess.run([IMAPD, "--print-config"], capture_output=True, text=True, check=True)
        with open(os.path.join(self.dir, "imapd.conf"), "w") as f:
            f.write(cfg.stdout)
            for k, v in self.conf.items():
                f.write(f"{k} = {v}\n")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=imap.example.test",
                        "-addext", "subjectAltName=DNS:imap.example.test,DNS:localhost,IP:127.0.0.1",
                        "-keyout", os.path.join(self.dir, "tls", "key.pem"),
                        "-out", os.path.join(self.dir, "tls", "cert.pem")],
                       check=True, capture_output=True)
        if IS_ROOT:
            ensure_account("tern-imapd")
            ensure_account("tern-vmail")
            chown_vmail(os.path.join(self.dir, "mail"))
            os.chmod(os.path.join(self.dir, "run"), 0o755)

    def cert(self):
        return os.path.join(self.dir, "tls", "cert.pem")

    def maildir(self, user, folder=None):
        local, domain = user.split("@")
        base = os.path.join(self.dir, "mail", domain, local)
        return base if not folder else os.path.join(base, "." + folder)

    def deliver(self, user, message, folder=None, name=None):
        """Put a message into new/ the way deliverd does: LF line endings, a
        deterministic name carrying ,S=<disk size>,W=<CRLF size>."""
        if isinstance(message, str):
            message = message.encode()
        data = message.replace(b"\r\n", b"\n")
        md = self.maildir(user, folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub), exist_ok=True)
        crlf = len(data) + data.count(b"\n")
        digest = hashlib.sha1(data).hexdigest()[:12]
        name = name or f"{int(time.time())}.{digest}{os.getpid()}{time.monotonic_ns() % 10**9},S={len(data)},W={crlf}"
        tmp = os.path.join(md, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        chown_vmail(os.path.join(self.dir, "mail"))
        os.rename(tmp, os.path.join(md, "new", name))
        return name

    # -- processes --
    def _spawn(self, args, extra_env, pass_fds):
        rd, wr = os.pipe()
        srd, swr = os.pipe()
        os.write(swr, self.secret)
        os.close(swr)
        env = dict(os.environ)
        env.pop("TERN_CONFIG", None)
        env.update(extra_env)
        env["TERN_READY_FD"] = str(wr)
        env["TERN_SECRET_FD"] = str(srd)
        p = subprocess.Popen([IMAPD, "-c", self.dir, *args], env=env,
                             pass_fds=(wr, srd, *pass_fds), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        os.close(wr)
        os.close(srd)
        self.procs.append(p)
        r, _, _ = select.select([rd], [], [], 15)
        ok = bool(r) and os.read(rd, 1) == b"1"
        os.close(rd)
        if not ok:
            err = p.stderr.read1(4000) if p.poll() is not None else b""
            raise AssertionError(f"tern-imapd {args} did not become ready: {err!r}\n{self.log_text()}")
        return p

    def listen(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        return s

    def bind_ports(self):
        """Both listening sockets, as the master binds them. Other test runs may
        share the machine: on a clash, move to the next free port base (the
        daemons learn the sockets, not the numbers)."""
        for attempt in range(19):
            socks = []
            try:
                for port in (self.imap_port, self.imaps_port):
                    socks.append(self.listen(port))
                return socks
            except OSError:
                for s in socks:
                    s.close()
                if self.started_once:
                    raise
                self.port_base = next_port_base()
                self.imap_port = self.port_base + 143
                self.imaps_port = self.port_base + 993
        raise AssertionError("no free port base for the IMAP tests")

    def start(self):
        if not os.path.exists(os.path.join(self.dir, "imapd.conf")):
            self.write_instance()
        if not self.shared:
            self.auth = FakeAuthd(os.path.join(self.dir, "run", "auth.sock"), self.secret, self.users,
                                  self.quotas)
        self._spawn(["--mail"], {}, ())
        l1, l2 = self.bind_ports()
        fds = f"imap:{l1.fileno()},imaps:{l2.fileno()}"
        self._spawn([], {"TERN_LISTEN_FDS": fds}, (l1.fileno(), l2.fileno()))
        self.started_once = True
        l1.close()
        l2.close()
        return self

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        errors = []
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            errors.append(self._drain(p.stderr))
        self.procs = []
        if self.auth:
            self.auth.close()
            self.auth = None
        # the mail role sends SIGTERM to its session processes as it stops

        # LeakSanitizer cannot run in the chrooted login role (no /proc there):
        # that is not a finding; every other sanitizer report is
        text = "".join(l for l in "".join(errors).splitlines(True)
                       if not ("Can't open /proc" in l or "LeakSanitizer has encountered a fatal" in l
                               or "HINT: " in l))
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            if marker in text:
                raise AssertionError(f"sanitizer report from tern-imapd:\n{text[-8000:]}")

    @staticmethod
    def _drain(f, timeout=3.0):
        """What a daemon (and its session processes) wrote to stderr, bounded."""
        if not f:
            return ""
        out, deadline = b"", time.monotonic() + timeout
        fd = f.fileno()
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
        f.close()
        return out.decode(errors="replace")

    def restart(self):
        self.stop()
        return self.start()

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "log", "tern.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""
