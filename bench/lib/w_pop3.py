"""Workload 4: POP3 download of a mailbox (LIST + RETR of every message)."""
import time

import mailgen
from clients import Pop3


class Pop3Retr:
    key, number, title = "pop3", 4, "POP3 LIST + RETR all"

    def __init__(self, ctx):
        self.ctx = ctx
        self.p = ctx.params
        self.user = ctx.pop_user
        self.n = self.p["pop_msgs"]

    def systems(self):
        return [("tern", "pop3"), ("dovecot", None)]

    def prepare(self, active):
        corpus = self.ctx.corpus("pop3", self.n, self.p["pop_size"])
        for s in active:
            sysobj = self.ctx.system(s)
            naming = mailgen.tern_name if s == "tern" else mailgen.plain_name
            mailgen.fill_maildir(corpus, sysobj.maildir(self.user), naming, sub="new",
                                 owner=sysobj.mail_owner())

    def finish(self, active):
        pass

    def run(self, system, rep):
        s = self.ctx.system(system)
        port = s.port("pop3") if system == "tern" else s.pop3_port
        c = Pop3(port)
        try:
            c.cmd("USER " + self.user)
            c.cmd("PASS " + self.ctx.password(self.user))
            # Timed from LIST: the login (a yescrypt hash check on both
            # sides) is not what this figure is about.
            c0 = s.cpu()
            t0 = time.monotonic()
            listing = c.multi("LIST").split(b"\r\n")
            count = len([l for l in listing if l and l != b"."])
            if count != self.n:
                raise RuntimeError(f"LIST shows {count} of {self.n} messages")
            total = 0
            for i in range(1, count + 1):
                total += len(c.multi(f"RETR {i}"))
            dt = time.monotonic() - t0
            cpu = s.cpu() - c0
            c.cmd("QUIT")
        finally:
            c.close()
        extra = {"bytes": total, "seconds": dt, "server_cpu_s": cpu}
        return [(f"RETR throughput ({self.n} x {self.p['pop_size'] // 1024} KB)",
                 total / dt / 1e6, "MB/s", "higher", extra),
                ("server CPU per MB sent (LIST + RETR)", cpu * 1000 / (total / 1e6), "ms",
                 "lower", extra)]
