"""A queue + local delivery test instance: tern-authd, tern-queued and
tern-deliverd --local started directly, the way the master starts them; users,
aliases and domains made with mailctl."""
import os
import pwd
import signal
import subprocess

from conftest import IS_ROOT, TERN_BIN, key_pipe, wait_for, mailctl

HERE = os.path.dirname(__file__)
ACCOUNTS = ["tern-queued", "tern-vmail", "tern-auth"]


def ensure_accounts(accounts=ACCOUNTS):
    if not IS_ROOT:
        return
    for a in accounts:
        try:
            pwd.getpwnam(a)
        except KeyError:
            subprocess.run(["/usr/sbin/useradd", "--system", "--user-group", "--no-create-home",
                            "--shell", "/usr/sbin/nologin", a], check=False)


class QueueEnv:
    def __init__(self, parent, name="q", hostname="mx.example.test", domain="example.test",
                 queued_conf=None, deliverd_conf=None):
        self.dir = os.path.join(parent, name)
        self.hostname = hostname
        self.domain = domain
        self.procs = {}
        # The run's agent key: queued and the delivery agents get it, as from
        # the master (common/queue_proto.h); nobody else can take jobs.
        self.agent_key = os.urandom(32)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        for d in ("spool", "mail", "db", "run", "log"):
            os.makedirs(os.path.join(self.dir, d))
            os.chmod(os.path.join(self.dir, d), 0o755)
        with open(self.path("tern.conf"), "w") as f:
            f.write(f"hostname = {hostname}\nlog = file\nlog_level = info\nport_base = 0\n")
        for name, extra in (("queued", queued_conf), ("deliverd", deliverd_conf), ("authd", {})):
            text = subprocess.run([os.path.join(TERN_BIN, f"tern-{name}"), "--print-config"],
                                  check=True, capture_output=True, text=True).stdout
            with open(self.path(f"{name}.conf"), "w") as f:
                f.write(text)
            for k, v in (extra or {}).items():
                self.set_conf(name, k, v)
        ensure_accounts()
        if IS_ROOT:
            vm = pwd.getpwnam("tern-vmail")
            os.chown(self.path("mail"), vm.pw_uid, vm.pw_gid)
            os.chmod(self.path("mail"), 0o700)
        self.ctl("domain", "add", domain)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def set_conf(self, name, key, value):
        p = self.path(f"{name}.conf")
        with open(p) as f:
            lines = [l for l in f.read().splitlines()
                     if l.split("=")[0].strip().lstrip("#").strip() != key]
        lines.append(f"{key} = {value}")
        with open(p, "w") as f:
            f.write("\n".join(lines) + "\n")

    # ---- users (auth data, through mailctl) ----
    def add_user(self, address, quota=0):
        self.ctl("user", "add", address, str(quota), input="Secret-pw-123\n")

    def add_folder(self, address, folder):
        local, dom = address.split("@")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(self.path("mail", dom, local, "." + folder, sub), exist_ok=True)
        self.chown_mail()

    def add_alias(self, address, targets):
        self.ctl("alias", "add", address, ",".join(targets))

    def set_catchall(self, domain, target):
        self.ctl("alias", "add", "@" + domain, target)

    def chown_mail(self):
        if not IS_ROOT:
            return
        vm = pwd.getpwnam("tern-vmail")
        for root, dirs, files in os.walk(self.path("mail")):
            for n in dirs + files:
                os.chown(os.path.join(root, n), vm.pw_uid, vm.pw_gid)

    # ---- processes ----
    def _spawn(self, name, argv):
        env = dict(os.environ)
        if IS_ROOT:
            # LeakSanitizer cannot inspect a process that changed its uid; the
            # other sanitizer checks stay on (and stop() looks for reports).
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        keep = []
        if os.path.basename(argv[0]) in ("tern-queued", "tern-deliverd"):
            key_pipe(env, "TERN_AGENT_KEY_FD", self.agent_key, keep)
        with open(self.path("log", f"{name}.err"), "ab") as err:
            self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=env,
                                                stdout=subprocess.DEVNULL, stderr=err,
                                                pass_fds=keep)
        for fd in keep:
            os.close(fd)

    def start_auth(self):
        self._spawn("authd", [os.path.join(TERN_BIN, "tern-authd"), "-c", self.dir])
        ok = wait_for(lambda: self.sock_ready("auth"), 60)
        assert ok, "tern-authd did not start:\n" + self.log_text()[-3000:]

    def start_queued(self):
        self._spawn("queued", [os.path.join(TERN_BIN, "tern-queued"), "-c", self.dir])
        ok = wait_for(lambda: self.sock_ready("queue"), 60)
        assert ok, "tern-queued did not start:\n" + self.log_text()[-3000:]

    def start_deliverd(self):
        self._spawn("deliverd", [os.path.join(TERN_BIN, "tern-deliverd"), "-c", self.dir,
                                 "--local"])
        ok = wait_for(lambda: "connected to queued as the local delivery agent" in self.log_text(),
                      20)
        assert ok, "tern-deliverd did not connect:\n" + self.log_text()[-3000:]

    def start(self):
        self.start_auth()
        self.start_queued()
        self.start_deliverd()

    def sock_ready(self, name):
        import socket
        p = self.path("run", f"{name}.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(p)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.get(name)
        if p and p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)

    def stop(self):
        """SIGTERM every daemon; each must exit cleanly, with no sanitizer report."""
        bad = []
        for name, p in list(self.procs.items()):
            running = p.poll() is None
            self.kill(name, signal.SIGTERM)
            if running and p.returncode != 0:
                bad.append(f"{name} exited {p.returncode} on SIGTERM")
        self.procs.clear()
        for name in ("authd", "queued", "deliverd"):
            try:
                with open(self.path("log", f"{name}.err"), errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
                if marker in text:
                    bad.append(f"{name}: {marker}:\n{text[-3000:]}")
        assert not bad, "\n".join(bad)

    def wait_log(self, text, timeout=20):
        return wait_for(lambda: text in self.log_text(), timeout)

    def log_text(self):
        try:
            with open(self.path("log", "tern.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # ---- clients ----
    def ctl(self, *args, **kw):
        return mailctl("-c", self.dir, *args, **kw)

    def sendmail(self, *args, input="", check=True, user=None):
        return self.ctl("sendmail", *args, input=input, check=check)

    def maildir_files(self, address, folder=None, subs=("new", "cur")):
        local, dom = address.split("@")
        base = self.path("mail", dom, local)
        if folder:
            base = os.path.join(base, "." + folder)
        out = []
        for sub in subs:
            d = os.path.join(base, sub)
            if os.path.isdir(d):
                out += [os.path.join(d, n) for n in sorted(os.listdir(d))]
        return out

    def wait_mail(self, address, count=1, folder=None, timeout=20):
        ok = wait_for(lambda: len(self.maildir_files(address, folder)) >= count, timeout)
        files = self.maildir_files(address, folder)
        assert ok, (f"{address}: {len(files)} message(s), wanted {count}\n"
                    + self.log_text()[-4000:])
        return files

    def queue_list(self):
        return [l for l in self.ctl("queue", "list").stdout.splitlines() if l.strip()]

    def wait_queue_empty(self, timeout=20):
        ok = wait_for(lambda: not self.queue_list(), timeout)
        assert ok, "queue not empty: " + "\n".join(self.queue_list()) + self.log_text()[-3000:]
