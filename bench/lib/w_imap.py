"""Workload 3: IMAP on a large folder, and memory per idle IMAP connection."""
import time
from concurrent.futures import ThreadPoolExecutor

import mailgen
from clients import Imap, imap_count, imap_search_result
from util import log, memory_kb, wait_for

INOTIFY = "/proc/sys/fs/inotify/max_user_instances"


def imap_port(ctx, system):
    s = ctx.system(system)
    return s.port("imap") if system == "tern" else s.imap_port


class ImapLarge:
    key, number, title = "imap", 3, "IMAP large folder"

    def __init__(self, ctx):
        self.ctx = ctx
        self.p = ctx.params
        self.user = ctx.big_user
        self.n = self.p["imap_msgs"]

    def systems(self):
        return [("tern", "imap"), ("dovecot", None)]

    def prepare(self, active):
        corpus = self.ctx.corpus("imap", self.n, self.p["imap_size"])
        for s in active:
            sysobj = self.ctx.system(s)
            naming = mailgen.tern_name if s == "tern" else mailgen.plain_name
            owner = sysobj.mail_owner()
            log(f"imap: linking {self.n} messages into {s}'s Maildir")
            mailgen.fill_maildir(corpus, sysobj.maildir(self.user), naming, owner=owner)
        self.expect_subject = sum(1 for i in range(self.n) if mailgen.subject_hit(i))
        self.expect_body = sum(1 for i in range(self.n) if mailgen.body_hit(i))

    def finish(self, active):
        pass

    def open_fetch(self, port):
        t0 = time.monotonic()
        c = Imap(port)
        try:
            c.login(self.user, self.ctx.password(self.user))
            c.cmd("SELECT INBOX")
            untagged, _ = c.cmd("UID FETCH 1:* (FLAGS ENVELOPE)")
            dt = time.monotonic() - t0
            c.cmd("LOGOUT")
        finally:
            c.close()
        got = imap_count(untagged)
        if got != self.n:
            raise RuntimeError(f"UID FETCH returned {got} of {self.n} messages")
        return dt, len(untagged)

    def search(self, port):
        c = Imap(port)
        try:
            c.login(self.user, self.ctx.password(self.user))
            c.cmd("SELECT INBOX")
            out = []
            for what, key, expect in (("header", f"SUBJECT {mailgen.SUBJECT_WORD}",
                                       self.expect_subject),
                                      ("body", f"BODY {mailgen.BODY_WORD}", self.expect_body)):
                t0 = time.monotonic()
                untagged, _ = c.cmd("UID SEARCH " + key)
                dt = time.monotonic() - t0
                hits = len(imap_search_result(untagged))
                if hits != expect:
                    raise RuntimeError(f"UID SEARCH {key}: {hits} hits, expected {expect}")
                out.append((f"UID SEARCH {what} ({key.split()[0]})", dt * 1000, "ms", "lower",
                            {"messages": self.n, "hits": hits}))
            c.cmd("LOGOUT")
            return out
        finally:
            c.close()

    def run(self, system, rep):
        port = imap_port(self.ctx, system)
        sysobj = self.ctx.system(system)
        if not sysobj.drop_index(self.user):
            raise RuntimeError("could not drop the folder index")
        c0 = sysobj.cpu()
        cold, nbytes = self.open_fetch(port)
        c1 = sysobj.cpu()
        warm, _ = self.open_fetch(port)
        c2 = sysobj.cpu()
        extra = {"messages": self.n, "reply_bytes": nbytes}
        cx, wx = dict(extra, server_cpu_s=c1 - c0), dict(extra, server_cpu_s=c2 - c1)
        return [("LOGIN+SELECT+UID FETCH 1:* (FLAGS ENVELOPE), cold", cold, "s", "lower", cx),
                ("LOGIN+SELECT+UID FETCH 1:* (FLAGS ENVELOPE), warm", warm, "s", "lower", wx),
                ("server CPU, cold open + FETCH", c1 - c0, "s", "lower", cx),
                ("server CPU, warm open + FETCH", c2 - c1, "s", "lower", wx),
                *self.search(port)]


class ImapIdle:
    key, number, title = "idle", 3, "memory per idle IMAP connection (IDLE)"

    def __init__(self, ctx):
        self.ctx = ctx
        self.p = ctx.params
        self.conns = self.p["idle_conns"]
        self.saved_inotify = None

    def systems(self):
        return [("tern", "imap"), ("dovecot", None), ("dovecot+hib", None)]

    def prepare(self, active):
        # Dovecot's IDLE holds one inotify instance per session process, all
        # under one uid: raise the per-user limit for the run (restored after).
        try:
            with open(INOTIFY) as f:
                cur = int(f.read())
            if cur < self.conns + 256:
                with open(INOTIFY, "w") as f:
                    f.write(str(self.conns + 256))
                self.saved_inotify = cur
        except OSError as e:
            log(f"idle: cannot raise {INOTIFY}: {e}")

    def finish(self, active):
        if self.saved_inotify is not None:
            with open(INOTIFY, "w") as f:
                f.write(str(self.saved_inotify))
            self.saved_inotify = None

    def one(self, port, user):
        c = Imap(port)
        try:
            c.login(user, self.ctx.password(user))
            c.cmd("SELECT INBOX")
            c.send(b"i IDLE\r\n")
            line = c.line()
            if not line.startswith(b"+"):
                raise RuntimeError(f"IDLE refused: {line[:100]!r}")
            return c
        except Exception:
            c.close()
            raise

    def run(self, system, rep):
        sysobj = self.ctx.system(system)
        port = imap_port(self.ctx, system)
        users = self.ctx.idle_users
        before = sysobj.pids()
        base = len(before)
        base_pss, base_rss = memory_kb(before)
        per = -(-self.conns // len(users))
        targets = [users[i // per] for i in range(self.conns)]
        conns = []
        try:
            with ThreadPoolExecutor(max_workers=8) as ex:
                futs = [ex.submit(self.one, port, u) for u in targets]
                for f in futs:
                    conns.append(f.result(timeout=300))
            # Settle: Dovecot hibernates a session idle for 5 s; all systems
            # get the same wait.
            time.sleep(self.p["idle_settle"])
            pids = sysobj.pids()
            pss, rss = memory_kb(pids)
        finally:
            for c in conns:
                c.close()
        # Let the server drop the sessions before the next system runs.
        wait_for(lambda: len(sysobj.pids()) <= base + 2, 30, 0.2)
        extra = {"connections": self.conns, "processes": len(pids), "pss_total_kb": pss,
                 "rss_total_kb": rss, "settle_s": self.p["idle_settle"],
                 "idle_processes": base, "idle_pss_kb": base_pss, "idle_rss_kb": base_rss}
        return [("memory per idle IDLE connection (PSS)", pss / self.conns, "KiB", "lower", extra),
                ("memory per idle IDLE connection (RSS)", rss / self.conns, "KiB", "lower", extra)]
