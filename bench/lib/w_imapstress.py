"""Workload 3: imaptest's stress mix (issue 18): Dovecot's own load generator
runs its random command mix (LOGIN, LIST, STATUS, SELECT, FETCH, STORE,
EXPUNGE, APPEND, LOGOUT) with state tracking, so every reply is checked, on
10 users with 10 and then 50 clients; ops/s side by side with Dovecot, and
every error counted (a run with errors is reported as failed)."""
import os
import re
import subprocess

from report import Partial
from util import log
from w_imap import imap_port

HERE = os.path.dirname(os.path.abspath(__file__))
USERS = 10
PASSWORD = "pw-stress-Bench9"


def stress_users(domain):
    return [f"stress{i}@{domain}" for i in range(1, USERS + 1)]


def imaptest_run():
    """shared/imaptest/run beside the checkout (or a worktree of it), or $IMAPTEST_RUN."""
    cands = [os.environ.get("IMAPTEST_RUN", "")]
    for up in (3, 4):
        cands.append(os.path.join(HERE, *[".."] * up, "shared", "imaptest", "run"))
    for c in cands:
        if c and os.access(c, os.X_OK):
            return os.path.normpath(c)
    return None


class ImapStress:
    key, number, title = "imapstress", 3, "IMAP stress mix (imaptest)"

    def __init__(self, ctx):
        self.ctx = ctx
        self.p = ctx.params
        self.run_path = imaptest_run()

    def systems(self):
        return [("tern", "imap"), ("dovecot", None)]

    def prepare(self, active):
        if not self.run_path:
            raise RuntimeError("imaptest not found (set IMAPTEST_RUN to shared/imaptest/run)")

    def finish(self, active):
        pass

    def one(self, port, clients):
        domain = self.ctx.big_user.split("@")[1]
        secs = self.p["stress_secs"]
        p = subprocess.run([self.run_path, "stress", "--port", str(port),
                            "--user", f"stress%d@{domain}", "--users", f"1-{USERS}",
                            "--password", PASSWORD, "--secs", str(secs),
                            "--clients", str(clients)],
                           capture_output=True, text=True, timeout=secs * 4 + 120)
        out = p.stdout + p.stderr
        m = re.search(r"^stress: (\d+) ops/s, (\d+) errors", out, re.M)
        if not m:
            raise RuntimeError("imaptest printed no summary: " + out[-500:])
        errors = int(m.group(2))
        if errors:
            kinds = [l.strip() for l in out.splitlines() if l.startswith(" ")][:5]
            log(f"imapstress: {errors} errors with {clients} clients: {kinds}")
        return int(m.group(1)), errors

    def run(self, system, rep):
        port = imap_port(self.ctx, system)
        figs, bad = [], []
        for clients in self.p["stress_clients"]:
            sysobj = self.ctx.system(system)
            c0 = sysobj.cpu()
            ops, errors = self.one(port, clients)
            extra = {"clients": clients, "users": USERS, "secs": self.p["stress_secs"],
                     "errors": errors, "server_cpu_s": sysobj.cpu() - c0}
            figs.append((f"imaptest stress, {clients} clients", ops, "ops/s", "higher", extra))
            if errors:
                bad.append(f"{errors} errors with {clients} clients")
        if bad:
            raise Partial(figs, "; ".join(bad))
        return figs
