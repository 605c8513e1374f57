"""A private tern instance: `mailctl init` into a temp dir with its own port
base, users added with `mailctl user add`, `mailctl start`; stopped with
`mailctl stop` (and its process tree killed if anything is left)."""
import os
import pwd

from dnsmasq import Dnsmasq, records as dns_records
from util import cpu_seconds, alive, debug, kill_tree, port_open, process_tree, read_pidfile, run, wait_for

# What each workload needs of tern: processes named in `mailctl status`
# (prefix match) and the listening service.
NEEDS = {
    "smtp": (("smtpd", "queued", "authd"), "smtp"),
    "deliver": (("smtpd", "queued", "authd", "deliverd"), "smtp"),
    "imap": (("imapd", "authd"), "imap"),
    "pop3": (("pop3d", "authd"), "pop3"),
    "jmap": (("httpd", "authd", "imapd", "smtpd", "queued", "deliverd"), "https"),
}
PORTS = {"smtp": 25, "imap": 143, "pop3": 110, "https": 443}
SENDER_DOMAIN = "sender.example"    # w_smtp.SENDER's domain

# Settings the bench changes, only when the daemon declares the key: a
# client on loopback logs in without TLS (as on the peers), 50 SMTP sessions
# from one address are allowed (Postfix exempts mynetworks). smtpd checks
# SPF, DKIM and DMARC (mail_auth, on by default) on every message, loopback
# clients included (trusted_networks emptied), asking the bench's own
# dnsmasq (dnsmasq.py; dns_server in tern.conf, set in setup()).
SETTINGS = {
    "smtpd": {"max_sessions_per_ip": "200", "mail_auth": "yes", "trusted_networks": ""},
    # idle sessions park as Dovecot's hibernate after the 5 s the bench gives it
    "imapd": {"plaintext_auth_networks": "127.0.0.0/8, ::1", "idle_park_after": "5s"},
    "pop3d": {"plaintext_auth_networks": "127.0.0.0/8, ::1"},
    # a user's JMAP mail process ends soon after its last request, so a cold
    # JMAP run can drop what it keeps (w_jmap.py)
    "httpd": {"session_idle_time": "2s",
              # jmapidle opens up to 5,000 EventSource streams at once
              "max_sessions": "12000"},
}
DNS_PORT_OFFSET = 53        # dnsmasq listens on port_base + 53


class Tern:
    name = "tern"

    def __init__(self, parent, bindir, port_base, domain):
        self.dir = os.path.join(parent, "tern")
        self.mailctl = os.path.join(bindir, "mailctl")
        self.port_base = port_base
        self.domain = domain
        self.started = False
        self.procs = {}
        self.master = None
        self.dns = None
        self.dns_port = port_base + DNS_PORT_OFFSET

    # ------------------------------------------------------------ control
    def ctl(self, *args, check=True, timeout=120, input=None):
        env = {k: v for k, v in os.environ.items() if k != "TERN_CONFIG"}
        return run([self.mailctl, "-c", self.dir, *args], check=check, timeout=timeout,
                   input=input, env=env)

    def missing(self):
        """None if mailctl can init and start an instance, else why not."""
        if not os.access(self.mailctl, os.X_OK):
            return f"{self.mailctl} not built"
        for cmd in ("init", "start"):
            p = run([self.mailctl, cmd, "--help"], check=False, timeout=30)
            if p.returncode != 0 or "not available" in p.stderr:
                return f"mailctl {cmd}: not available yet"
        return None

    def setup(self, users):
        run([self.mailctl, "init", self.dir, "--hostname", "tern." + self.domain,
             "--domain", self.domain, "--port-base", str(self.port_base)], timeout=120)
        if not self.set_conf("tern", "dns_server", f"127.0.0.1:{self.dns_port}"):
            raise RuntimeError("tern.conf has no dns_server setting")
        for daemon, kv in SETTINGS.items():
            for k, v in kv.items():
                self.set_conf(daemon, k, v)
        for addr, (password, _) in users.items():
            self.ctl("user", "add", addr, input=password + "\n")

    def set_conf(self, daemon, key, value):
        path = os.path.join(self.dir, f"{daemon}.conf")
        if not os.path.exists(path):
            return False
        with open(path) as f:
            lines = f.read().splitlines()
        names = [l.split("=")[0].strip().lstrip("#").strip() for l in lines]
        if key not in names:
            return False
        lines = [l for l, n in zip(lines, names) if n != key] + [f"{key} = {value}"]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return True

    def start(self):
        self.started = True          # stop() cleans up even after a failed start
        self.dns = Dnsmasq(self.dns_port, dns_records(SENDER_DOMAIN), self.dir)
        self.ctl("start", timeout=120)
        self.master = read_pidfile(os.path.join(self.dir, "run", "master.pid"))
        self.procs = self.status()
        debug(f"tern processes: {sorted(self.procs)}")

    def status(self):
        out = {}
        p = self.ctl("status", check=False, timeout=30)
        for line in p.stdout.splitlines():
            f = line.split()
            if len(f) >= 2 and f[1].isdigit():
                out.setdefault(f[0], []).append(int(f[1]))
        return out

    def stop(self):
        if not self.started:
            return
        master = self.master or read_pidfile(os.path.join(self.dir, "run", "master.pid"))
        pids = self.pids()
        self.ctl("stop", check=False, timeout=120)
        if master:
            wait_for(lambda: not alive(master), 10)
        kill_tree(pids)
        if self.dns:
            self.dns.stop()
            self.dns = None
        self.started = False

    def cpu(self):
        """CPU seconds used so far by the master and every daemon under it."""
        return cpu_seconds(self.master) if self.master else 0.0

    def pids(self):
        roots = [self.master] if self.master else []
        for ps in self.procs.values():
            roots += ps
        return process_tree(roots)

    # ------------------------------------------------------------ queries
    def port(self, service):
        return self.port_base + PORTS[service]

    def unavailable(self, need):
        """None if the workload's tern side runs, else a reason."""
        names, service = NEEDS[need]
        if not self.started:
            return "tern not started"
        for n in names:
            if not any(p.startswith(n) for p in self.procs):
                return f"tern-{n} not supervised by the master yet"
        if not port_open(self.port(service)):
            return f"nothing listens on tern's {service} port"
        return None

    def maildir(self, address):
        local, dom = address.split("@")
        return os.path.join(self.dir, "mail", dom, local)

    def mail_owner(self):
        """(uid, gid) owning users' Maildirs."""
        st = os.stat(os.path.join(self.dir, "mail"))
        try:
            pw = pwd.getpwnam("tern-vmail")
            return pw.pw_uid, pw.pw_gid
        except KeyError:
            return st.st_uid, st.st_gid

    def spool_count(self):
        """Committed messages: files in spool/msg (queued.h). `mailctl queue
        list` is not used for this: its reply is one IPC message, cut at
        IPC_MAX_PAYLOAD (256 KiB, about 3,700 lines)."""
        d = os.path.join(self.dir, "spool", "msg")
        return len(os.listdir(d)) if os.path.isdir(d) else 0

    def queue_clear(self):
        """Delete every queued message and wait (bounded) until queued has
        unlinked their files, so the next run starts on an empty spool."""
        self.ctl("queue", "delete", "all", timeout=300)
        if not wait_for(lambda: self.spool_count() == 0, 300, 0.2):
            raise RuntimeError(f"{self.spool_count()} files left in spool/msg after delete all")

    def drop_index(self, address):
        """`mailctl mailbox index ADDRESS drop`; until that command exists,
        remove the INBOX index file (common/mailindex.h: tern-index.db in
        the folder directory), which is what a drop amounts to while no
        session has the folder open."""
        p = self.ctl("mailbox", "index", address, "drop", check=False, timeout=120)
        if p.returncode == 0:
            return True
        if "not available" not in p.stderr:
            debug(f"mailbox index drop: {p.stderr.strip()}")
            return False
        md = self.maildir(address)
        for n in os.listdir(md):
            if n.startswith("tern-index") and not n.endswith(".lock"):
                os.unlink(os.path.join(md, n))
        return True

    def log_tail(self, n=3000):
        try:
            with open(os.path.join(self.dir, "log", "tern.log"), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no log)"
