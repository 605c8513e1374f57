"""A running tern-pop3d pair (login role + mail role) with the real auth
service (tern-authd) for the POP3 tests.

Until the master (`mailctl start`) is on main, this starts the three
processes exactly as the master will (TERN_LISTEN_FDS, TERN_READY_FD,
TERN_SECRET_FD shared by authd and the mail role, `-c DIR`, `--mail`). Users
are made with `mailctl user add`. Messages are written into the Maildir in
deliverd's naming convention (LF line endings, ,S=<size>,W=<crlf size>).
"""
import hashlib
import hmac
import os
import pwd
import socket
import struct
import subprocess
import time

from conftest import TERN_BIN, IS_ROOT, key_pipe, next_port_base

POP3D = os.path.join(TERN_BIN, "tern-pop3d")
AUTHD = os.path.join(TERN_BIN, "tern-authd")
# The other daemons started for real deliveries: role -> (binary, role args).
BINARIES = {"auth": ("tern-authd", []), "login": ("tern-pop3d", []), "mail": ("tern-pop3d", ["--mail"]),
            "queued": ("tern-queued", []), "deliverd": ("tern-deliverd", ["--local"]),
            "smtpd": ("tern-smtpd", []), "imap_mail": ("tern-imapd", ["--mail"]),
            "imap_login": ("tern-imapd", [])}
MAILCTL = os.path.join(TERN_BIN, "mailctl")

AUTH_LOGIN_REQ, AUTH_LOGIN_RES = 100, 101
AUTH_OK, AUTH_FAIL, AUTH_TEMPFAIL, AUTH_LOCKED = 0, 1, 2, 3
T_U32, T_U64, T_STR, T_BYTES = 1, 2, 3, 4


def ensure_account(name):
    if not IS_ROOT:
        return
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name], check=True)


def ipc_frame(mtype, mid, fields):
    payload = b""
    for tag, val in fields:
        if tag == T_U32:
            data = struct.pack(">I", val)
        elif tag == T_STR:
            data = val.encode()
        else:
            data = val
        payload += struct.pack(">BI", tag, len(data)) + data
    return struct.pack(">IHBBI", len(payload), mtype, 1, 0, mid) + payload


def ipc_fields(payload):
    out, i = [], 0
    while i < len(payload):
        tag, n = struct.unpack(">BI", payload[i:i + 5])
        out.append(payload[i + 5:i + 5 + n])
        i += 5 + n
    return out


def make_token(secret, service, user, expiry):
    mac = hmac.new(secret, f"{service}\n{user}\n{expiry}".encode(), hashlib.sha256).hexdigest()
    return f"{mac}.{expiry}"


class Pop3Env:
    HOST = "127.0.0.1"

    def __init__(self, parent, settings=None, users=None, start_mail=True, nofile=None):
        self.nofile = nofile	# RLIMIT_NOFILE of the login role
        self.socks = self._bind_ports()
        self.dir = os.path.join(parent, f"pop{self.port_base}")
        self.domain = "example.test"
        self.hostname = "mx.example.test"
        self.users = users or {"alice@example.test": "alice-pw", "bob@example.test": "bob pw"}
        self.secret = os.urandom(32)
        self.agent_key = os.urandom(32)
        self.procs = {}
        self._counter = 0
        try:
            self._setup(settings or {})
            self.start_role("auth")
            if start_mail:
                self.start_role("mail")
            self.start_role("login")
        except BaseException:
            self.stop(check=False)	# never leave a daemon behind
            raise

    def _bind_ports(self):
        """Listening sockets as the master would bind them, on the first port
        base whose ports are free (other test runs may share the machine)."""
        for _ in range(19):
            self.port_base = next_port_base()
            socks = []
            try:
                for name in ("pop3", "pop3s", "imap", "smtp"):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    socks.append((name, s))
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((self.HOST, self.port(name)))
                    s.listen(128)
                self.smtp_sock = socks.pop()[1]	# passed to smtpd only
                self.imap_sock = socks.pop()[1]	# and to imapd
                return socks
            except OSError:
                for _, s in socks:
                    s.close()
        raise AssertionError("no free port base for the POP3 tests")

    # ---- instance ----
    def _setup(self, settings):
        for d in ("run", "mail", "log", "tls", "db", "spool"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        os.chmod(self.dir, 0o755)
        with open(os.path.join(self.dir, "tern.conf"), "w") as f:
            f.write(f"hostname = {self.hostname}\nport_base = {self.port_base}\n"
                    f"listen = 127.0.0.1\nlog = file\nlog_level = debug\n"
                    "dns_server = 127.0.0.1:9\n")
        conf = subprocess.run([POP3D, "--print-config"], capture_output=True, text=True,
                              check=True).stdout
        lines = [l for l in conf.splitlines()
                 if l.split("=")[0].strip().lstrip("#").strip() not in settings]
        lines += [f"{k} = {v}" for k, v in settings.items()]
        with open(os.path.join(self.dir, "pop3d.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", self.key(), "-out", self.cert(), "-days", "30",
                        "-subj", f"/CN={self.hostname}",
                        "-addext", f"subjectAltName=DNS:{self.hostname}"],
                       check=True, capture_output=True)
        auth = subprocess.run([AUTHD, "--print-config"], capture_output=True, text=True,
                              check=True).stdout
        with open(os.path.join(self.dir, "authd.conf"), "w") as f:
            f.write(auth + "failure_delay = 0s\n")
        for a in ("tern-pop3d", "tern-vmail", "tern-auth"):
            ensure_account(a)
        if IS_ROOT:
            # as `mailctl init` makes it: authd (chrooted there) writes its
            # failure counts into db/
            auth = pwd.getpwnam("tern-auth")
            os.chown(os.path.join(self.dir, "db"), auth.pw_uid, auth.pw_gid)
            os.chmod(os.path.join(self.dir, "db"), 0o700)
        self.ctl("domain", "add", self.domain)
        for u, pw in self.users.items():
            self.ctl("user", "add", u, input=pw + "\n")

    def ctl(self, *args, input=None):
        env = dict(os.environ)
        env.pop("TERN_CONFIG", None)
        return subprocess.run([MAILCTL, "-c", self.dir, *args], input=input, text=True,
                              capture_output=True, check=True, timeout=30, env=env)

    def cert(self):
        return os.path.join(self.dir, "tls", "cert.pem")

    def key(self):
        return os.path.join(self.dir, "tls", "key.pem")

    def port(self, name):
        return self.port_base + {"pop3": 110, "pop3s": 995, "smtp": 25, "imap": 143}[name]

    def maildir(self, user):
        local, domain = user.split("@")
        return os.path.join(self.dir, "mail", domain, local)

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "log", "tern.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # ---- processes ----
    def start_role(self, role):
        env = dict(os.environ)
        env.pop("TERN_CONFIG", None)
        rd, wr = os.pipe()
        keep = [wr]
        env["TERN_READY_FD"] = str(wr)
        binary, role_args = BINARIES[role]
        args = [os.path.join(TERN_BIN, binary), "-c", self.dir, *role_args]
        if (role in ("login", "auth", "smtpd", "imap_login") and IS_ROOT) or binary != "tern-pop3d":
            # LeakSanitizer needs /proc, which a chrooted process cannot see;
            # the other daemons' exit-time leaks are their tests' business.
            env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
        keys = []
        if role in ("mail", "auth", "imap_mail", "imap_login"):
            keys.append(key_pipe(env, "TERN_SECRET_FD", self.secret, keep))
        if role in ("queued", "deliverd"):
            keys.append(key_pipe(env, "TERN_AGENT_KEY_FD", self.agent_key, keep))
        if role == "imap_login":
            env["TERN_LISTEN_FDS"] = f"imap:{self.imap_sock.fileno()}"
            keep.append(self.imap_sock.fileno())
        elif role == "smtpd":
            env["TERN_LISTEN_FDS"] = f"smtp:{self.smtp_sock.fileno()}"
            keep.append(self.smtp_sock.fileno())
        elif role == "login":
            socks = self.socks
            env["TERN_LISTEN_FDS"] = ",".join(f"{n}:{s.fileno()}" for n, s in socks)
            keep += [s.fileno() for _, s in socks]
        errf = open(os.path.join(self.dir, "log", f"{role}.stderr"), "ab")
        def limits():
            if role == "login" and self.nofile:
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        p = subprocess.Popen(args, env=env, pass_fds=keep, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=errf, preexec_fn=limits)
        errf.close()
        os.close(wr)
        for fd in keys:
            os.close(fd)
        ready = b""
        import select
        r, _, _ = select.select([rd], [], [], 15)
        if r:
            ready = os.read(rd, 1)
        os.close(rd)
        if ready != b"1":
            p.kill()
            p.wait(timeout=5)
            raise AssertionError(f"{role} did not start: {self.stderr_text()}\n"
                                 f"{self.log_text()}")
        self.procs[role] = p
        return p

    def start_delivery(self):
        """queued, local delivery and smtpd, for mailboxes filled over SMTP."""
        for a in ("tern-queued", "tern-smtpd"):
            ensure_account(a)
        for name in ("queued", "deliverd", "smtpd"):
            conf = subprocess.run([os.path.join(TERN_BIN, f"tern-{name}"), "--print-config"],
                                  capture_output=True, text=True, check=True).stdout
            with open(os.path.join(self.dir, f"{name}.conf"), "w") as f:
                f.write(conf)
        self.start_role("queued")
        self.start_role("deliverd")
        self.start_role("smtpd")

    def start_imap(self):
        """Both imapd roles, sharing the Maildirs (plaintext logins on loopback)."""
        ensure_account("tern-imapd")
        conf = subprocess.run([os.path.join(TERN_BIN, "tern-imapd"), "--print-config"],
                              capture_output=True, text=True, check=True).stdout
        with open(os.path.join(self.dir, "imapd.conf"), "w") as f:
            f.write(conf + "plaintext_auth_networks = 127.0.0.0/8, ::1\n")
        self.start_role("imap_mail")
        self.start_role("imap_login")

    def smtp_deliver(self, rcpt, data, sender="sender@remote.test"):
        """Send one message over SMTP; returns the new Maildir file name."""
        import smtplib
        md = os.path.join(self.maildir(rcpt), "new")
        before = set(os.listdir(md))
        with smtplib.SMTP(self.HOST, self.port("smtp"), timeout=30) as c:
            c.sendmail(sender, [rcpt], data)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            new = set(os.listdir(md)) - before
            if new:
                return new.pop()
            time.sleep(0.05)
        raise AssertionError("message not delivered:\n" + self.log_text()[-3000:])

    def stop_role(self, role):
        p = self.procs.pop(role)
        p.terminate()
        p.wait(timeout=10)

    def stop(self, check=True):
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        self.procs = {}
        for _, s in self.socks:
            s.close()
        self.socks = []
        self.smtp_sock.close()
        self.imap_sock.close()
        if not check:
            return
        # Sanitizer builds report memory errors on stderr (sessions included).
        err = self.stderr_text()
        assert "Sanitizer" not in err and "runtime error" not in err, err
        unsaved = [l for l in self.log_text().splitlines() if "cannot write" in l]
        assert not unsaved, unsaved

    def stderr_text(self):
        out = ""
        for role in BINARIES:
            try:
                with open(os.path.join(self.dir, "log", f"{role}.stderr"), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    # ---- mailbox ----
    def deliver(self, user, text, when=None):
        """Store a message as deliverd does: LF endings, S= and W= in the name."""
        self._counter += 1
        return maildir_deliver(self.maildir(user), text, f"M{self._counter}P{os.getpid()}.{self.hostname}", when)

    def files(self, user):
        md = self.maildir(user)
        return sorted(os.listdir(os.path.join(md, "cur"))) + sorted(os.listdir(os.path.join(md, "new")))


def maildir_deliver(md, text, unique, when=None):
    """Store a message in Maildir md as deliverd does: LF endings, S= and W=
    in the name (unique: the part after the time, distinct per message)."""
    data = text.replace("\r\n", "\n").encode()
    crlf = len(data) + data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 2)
    t = int(when or time.time())
    base = f"{t}.{unique},S={len(data)},W={crlf}"
    tmp = os.path.join(md, "tmp", base)
    with open(tmp, "wb") as f:
        f.write(data)
    os.utime(tmp, (t, t))
    if IS_ROOT:
        pw = pwd.getpwnam("tern-vmail")
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
    os.rename(tmp, os.path.join(md, "new", base))
    return base


def pop3_lock_free(maildir):
    """Is the POP3 lock of this Maildir (flock of tern-pop3.lock) free right now?"""
    import fcntl
    fd = os.open(os.path.join(maildir, "tern-pop3.lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
