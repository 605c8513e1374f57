"""Workload 9 (frontends): the SMTP accept rate of a site (issue 16,
docs/SCALING.md) with one and with two front-ends on this machine.

Every host is a network namespace of its own on one bridge, as in
tests/e2e/test_site_isp.py: the directory (a throwaway PostgreSQL cluster),
two front-ends (role = frontend, port base 1000 in each namespace) and the
client (Postfix's smtp-source). Each front-end answers RCPT from the
directory over the bridge and commits each message durably before its 250;
deliveries are paused (`mailctl queue pause`), as in workload 1, so the
figure is the front-ends' accept rate, not the mailbox hosts'. With two
front-ends, two smtp-source runs (one per front-end, each with the same
sessions and half the messages) go at once: the rate is all messages over
the wall time of both. The client's network is in trusted_networks (no
SPF/DKIM/DMARC: nothing here to compare with workload 1's figure).
CPU per message is the front-ends' process trees (and, apart, the
directory's) between the start and the end of a run. Needs root."""
import glob
import os
import pwd
import shutil
import subprocess
import time

from util import cpu_seconds, log, read_pidfile, run, wait_for
from w_smtp import SENDER, SMTP_SOURCE

NET = "192.0.2"
ADDR = {"dir": f"{NET}.10", "fe1": f"{NET}.11", "fe2": f"{NET}.12", "cl": f"{NET}.100"}
BASE = 1000                 # every host its own namespace: one port layout for all
PG_PORT = BASE + 432
DOMAIN = "site.test"
RCPT = f"user@{DOMAIN}"
SECRET = "bench-site-secret-1234567890"
PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


class Lan:
    """Namespaces on one bridge (in a namespace of its own)."""

    def __init__(self):
        self.tag = f"tern-bench{os.getpid() % 100000}"
        self.names = []
        self.switch = self.add("sw")
        self.ip(self.switch, "link", "add", "br0", "type", "bridge")
        self.ip(self.switch, "link", "set", "br0", "up")

    def add(self, host):
        name = f"{self.tag}-{host}"
        run(["ip", "netns", "add", name])
        self.names.append(name)
        self.ip(name, "link", "set", "lo", "up")
        return name

    def ip(self, ns, *args):
        run(["ip", "-n", ns, *args])

    def host(self, host, addr):
        ns = self.add(host)
        port = f"b{os.getpid() % 100000}-{len(self.names)}"
        run(["ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port,
             "netns", self.switch])
        self.ip(ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        self.ip(ns, "link", "set", "eth0", "up")
        self.ip(self.switch, "link", "set", port, "master", "br0", "up")
        return ns

    def prefix(self, ns):
        return ["ip", "netns", "exec", ns]

    def delete(self):
        """Kill what still runs in them (only what the bench started), remove them."""
        for ns in self.names:
            p = run(["ip", "netns", "pids", ns], check=False)
            for pid in p.stdout.split():
                try:
                    os.kill(int(pid), 9)
                except ProcessLookupError:
                    pass
            run(["ip", "netns", "delete", ns], check=False)


class SiteAccept:
    key, number, title = "frontends", 9, "SMTP accept rate of a site, 1 vs 2 front-ends"

    def __init__(self, ctx):
        self.ctx = ctx
        self.p = ctx.params
        self.lan = None
        self.fes = {}
        self.fes_ns = {}
        self.pg_data = None

    def systems(self):
        return [("tern", "smtp")]

    def missing(self):
        if os.geteuid() != 0:
            return "needs root (network namespaces)"
        for what, ok in (("ip", shutil.which("ip")), ("PostgreSQL", PG_BINS),
                         ("smtp-source", os.path.exists(SMTP_SOURCE))):
            if not ok:
                return f"{what} not installed"
        return None

    # ------------------------------------------------------------ setup
    def prepare(self, active):
        self.lan = Lan()
        ns = {h: self.lan.host(h, a) for h, a in ADDR.items()}
        self.ns = ns
        self.pg(ns["dir"])
        for h in ("fe1", "fe2"):
            self.fes[h] = self.frontend(h, ns[h])
        fe1 = self.fes["fe1"]
        self.ctl(fe1, "directory", "init")
        self.ctl(fe1, "domain", "add", DOMAIN)
        self.ctl(fe1, "user", "add", RCPT, "--host", "mb1", input="pw-site-Bench9\n")
        for h, d in self.fes.items():
            self.ctl(d, "start", timeout=120)
            self.ctl(d, "queue", "pause")

    def pg(self, ns):
        nobody = pwd.getpwnam("nobody")
        d = os.path.join(self.ctx.tmp, "site-pg")
        os.mkdir(d)
        os.chown(d, nobody.pw_uid, nobody.pw_gid)
        self.pg_dir, self.pg_data = d, os.path.join(d, "data")
        self.pg_run(ns, "initdb", "-D", self.pg_data, "-U", "tern", "--auth=trust", "-E", "UTF8",
                    "--no-sync")
        with open(os.path.join(self.pg_data, "pg_hba.conf"), "a") as f:
            f.write("host all all samenet trust\n")
        self.pg_run(ns, "pg_ctl", "-D", self.pg_data, "-l", os.path.join(d, "log"), "-w", "-o",
                    f"-k {d} -p {PG_PORT} -c listen_addresses=127.0.0.1,{ADDR['dir']} "
                    "-c max_connections=200", "start")
        self.pg_run(ns, "createdb", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "tern", "tern")

    def pg_run(self, ns, prog, *args):
        exe = os.path.join(os.path.dirname(PG_BINS[-1]), prog)
        run([*self.lan.prefix(ns), "runuser", "-u", "nobody", "--", exe, *args], timeout=120)

    def frontend(self, name, ns):
        d = os.path.join(self.ctx.tmp, f"site-{name}")
        self.ctl(None, "init", d, "--hostname", f"{name}.{DOMAIN}", "--domain", DOMAIN,
                 "--port-base", str(BASE), "--listen", ADDR[name])
        secret = os.path.join(d, "site.secret")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret, 0o600)
        conf = {"tern": {"directory": "pgsql",
                         "directory_pgsql": f"host={ADDR['dir']} port={PG_PORT} dbname=tern "
                                            "user=tern",
                         "role": "frontend", "mailbox_hosts": f"mb1={NET}.21:{BASE + 24}",
                         "site_secret_file": "site.secret", "dns_server": "127.0.0.1:9"},
                "smtpd": {"max_sessions_per_ip": "200",
                          "trusted_networks": f"127.0.0.0/8, {NET}.0/24"}}
        for daemon, kv in conf.items():
            with open(os.path.join(d, f"{daemon}.conf"), "a") as f:
                f.writelines(f"{k} = {v}\n" for k, v in kv.items())
        self.fes_ns[d] = ns
        return d

    def ctl(self, d, *args, input=None, timeout=300):
        prefix = self.lan.prefix(self.fes_ns[d]) if d else []
        env = {k: v for k, v in os.environ.items() if k != "TERN_CONFIG"}
        mailctl = os.path.join(self.ctx.bindir, "mailctl")
        return run([*prefix, mailctl, *(("-c", d) if d else ()), *args], input=input,
                   timeout=timeout, env=env)

    def finish(self, active):
        for d in self.fes.values():
            self.ctl(d, "stop", timeout=120)
        if self.pg_data and os.path.exists(os.path.join(self.pg_data, "postmaster.pid")):
            self.pg_run(self.ns["dir"], "pg_ctl", "-D", self.pg_data, "-m", "immediate", "-w",
                        "stop")
        if self.lan:
            self.lan.delete()

    # ------------------------------------------------------------ measure
    def spooled(self, d):
        s = os.path.join(d, "spool", "msg")
        return len(os.listdir(s)) if os.path.isdir(s) else 0

    def clear(self, d):
        self.ctl(d, "queue", "delete", "all")
        if not wait_for(lambda: self.spooled(d) == 0, 300, 0.2):
            raise RuntimeError(f"{self.spooled(d)} files left in {d}/spool/msg")

    def run(self, system, rep):
        out = []
        for k in (1, 2):
            out += self.one(k)
        return out

    def one(self, k):
        n, size = self.p["accept_msgs"], self.p["msg_size"]
        sessions = self.p["accept_sessions"][0]
        fes = [self.fes[h] for h in ("fe1", "fe2")[:k]]
        masters = [read_pidfile(os.path.join(d, "run", "master.pid")) for d in fes]
        pg_master = read_pidfile(os.path.join(self.pg_data, "postmaster.pid"))
        c0 = sum(cpu_seconds(m) for m in masters)
        p0 = cpu_seconds(pg_master)
        t0 = time.monotonic()
        procs = []
        for i, d in enumerate(fes):
            share = n // k + (1 if i < n % k else 0)
            host = ("fe1", "fe2")[i]
            procs.append(subprocess.Popen(
                [*self.lan.prefix(self.ns["cl"]), SMTP_SOURCE, "-s", str(sessions), "-m",
                 str(share), "-l", str(size), "-f", SENDER, "-t", RCPT,
                 f"{ADDR[host]}:{BASE + 25}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True))
        errs = []
        for p in procs:
            try:
                _, err = p.communicate(timeout=60 + n / 5)
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
            if p.returncode != 0 or "rejected" in err or "error" in err.lower():
                errs.append(f"smtp-source exit {p.returncode}: {err.strip()[-300:]}")
        dt = time.monotonic() - t0
        queued = sum(self.spooled(d) for d in fes)
        cpu = sum(cpu_seconds(m) for m in masters) - c0
        pg_cpu = cpu_seconds(pg_master) - p0
        for d in fes:
            self.clear(d)
        if errs:
            raise RuntimeError("; ".join(errs))
        if queued < n:
            raise RuntimeError(f"{queued} of {n} messages queued after 250")
        log(f"  {k} front-end(s): {n} messages in {dt:.2f} s")
        extra = {"messages": n, "seconds": dt, "size": size, "frontends": k,
                 "sessions_per_frontend": sessions, "frontend_cpu_s": cpu,
                 "directory_cpu_s": pg_cpu}
        fe = "front-end" if k == 1 else "front-ends"
        return [(f"accept rate, {k} {fe}, {sessions} sessions each", n / dt, "msg/s", "higher",
                 extra),
                (f"front-end CPU per message, {k} {fe}", cpu * 1000 / n, "ms", "lower", extra),
                (f"directory CPU per message, {k} {fe}", pg_cpu * 1000 / n, "ms", "lower",
                 extra)]
