"""Workload 3: IMAP on a large folder, and memory per idle IMAP connection."""
import os
import re
import selectors
import smtplib
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import mailgen
from clients import Imap, imap_count, imap_search_result
from report import Partial
from util import log, memory_kb, wait_for
from w_smtp import SENDER

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
    """Memory per connection with N connections idle in IDLE (20 per user),
    after a settle that lets Dovecot hibernate and tern park them; then
    push: N sessions of one user idle in IDLE on its INBOX, one message
    delivered (tern: over SMTP, timed from the 250; Dovecot, which has no
    SMTP here: a file renamed into new/, timed from the rename), and the
    time until the last client has its EXISTS."""
    key, number, title = "idle", 3, "memory per idle IMAP connection (IDLE)"

    def __init__(self, ctx):
        self.ctx = ctx
        self.p = ctx.params
        self.counts = self.p["idle_conns"]
        self.saved_inotify = None

    def systems(self):
        return [("tern", "imap"), ("dovecot", None), ("dovecot+hib", None)]

    def prepare(self, active):
        # Dovecot's IDLE holds one inotify instance per session process, all
        # under one uid: raise the per-user limit for the run (restored after).
        want = max(max(self.counts), self.p["push_conns"]) + 256
        try:
            with open(INOTIFY) as f:
                cur = int(f.read())
            if cur < want:
                with open(INOTIFY, "w") as f:
                    f.write(str(want))
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

    def open_idle(self, port, targets):
        conns = []
        try:
            with ThreadPoolExecutor(max_workers=8) as ex:
                futs = [ex.submit(self.one, port, u) for u in targets]
                for f in futs:
                    conns.append(f.result(timeout=600))
        except BaseException:
            for c in conns:
                c.close()
            raise
        # Settle: Dovecot hibernates a session idle for 5 s, tern parks it
        # after 5 s (idle_park_after in tern.py); all systems get the same wait.
        time.sleep(self.p["idle_settle"])
        return conns

    def close_all(self, sysobj, conns, base):
        for c in conns:
            c.close()
        # Let the server drop the sessions before the next system runs.
        wait_for(lambda: len(sysobj.pids()) <= base + 2, 60, 0.2)

    def memory(self, system, n):
        sysobj = self.ctx.system(system)
        users = self.ctx.idle_users
        before = sysobj.pids()
        base = len(before)
        base_pss, base_rss = memory_kb(before)
        targets = [users[i // self.ctx.per_user] for i in range(n)]
        conns = self.open_idle(imap_port(self.ctx, system), targets)
        try:
            pids = sysobj.pids()
            pss, rss = memory_kb(pids)
        finally:
            self.close_all(sysobj, conns, base)
        extra = {"connections": n, "processes": len(pids), "pss_total_kb": pss,
                 "rss_total_kb": rss, "settle_s": self.p["idle_settle"],
                 "idle_processes": base, "idle_pss_kb": base_pss, "idle_rss_kb": base_rss}
        if system == "tern" and len(pids) - base > n // 10:
            log(f"idle: tern kept {len(pids) - base} of {n} sessions in processes (not parked)")
        return [(f"memory per idle IDLE connection (PSS), {n} connections", pss / n, "KiB",
                 "lower", extra),
                (f"memory per idle IDLE connection (RSS), {n} connections", rss / n, "KiB",
                 "lower", extra)]

    def deliver(self, system, rep):
        """One message to the push user; the time it counts from."""
        msg = (f"From: {SENDER}\r\nTo: {self.ctx.push_user}\r\nSubject: push {rep}\r\n"
               f"Message-ID: <push{rep}.{time.time()}@sender.example>\r\n\r\nnew mail\r\n")
        if system == "tern":
            with smtplib.SMTP("127.0.0.1", self.ctx.tern.port("smtp"), timeout=60) as s:
                s.sendmail(SENDER, [self.ctx.push_user], msg)
                return time.monotonic()      # sendmail returns on the 250
        d = self.ctx.system(system).maildir(self.ctx.push_user)
        name = f"{time.time():.6f}.push{rep}.bench:2,"
        tmp = os.path.join(d, "tmp", name)
        with open(tmp, "w") as f:
            f.write(msg)
        os.chown(tmp, *self.ctx.system(system).mail_owner())
        os.rename(tmp, os.path.join(d, "new", name))
        return time.monotonic()

    def push(self, system, rep):
        sysobj = self.ctx.system(system)
        n = self.p["push_conns"]
        base = len(sysobj.pids())
        conns = self.open_idle(imap_port(self.ctx, system), [self.ctx.push_user] * n)
        try:
            in_procs = len(sysobj.pids()) - base
            t0 = self.deliver(system, rep)
            got = exists_times(conns, 30)
        finally:
            self.close_all(sysobj, conns, base)
        extra = {"connections": n, "reached": len(got), "session_processes": in_procs,
                 "first_ms": (min(got) - t0) * 1000 if got else None,
                 "median_ms": (statistics.median(got) - t0) * 1000 if got else None}
        if len(got) < n:
            raise Partial([], f"push: {len(got)} of {n} clients told of the delivery in 30 s")
        return [(f"delivery to the last of {n} IDLE clients of one INBOX", (max(got) - t0) * 1000,
                 "ms", "lower", extra)]

    def run(self, system, rep):
        figs = []
        for n in self.counts:
            figs += self.memory(system, n)
        try:
            figs += self.push(system, rep)
        except Partial as e:
            raise Partial(figs, str(e))
        return figs


def exists_times(conns, timeout):
    """When each connection's next "* N EXISTS" arrived (monotonic), for
    those it reached within timeout."""
    sel = selectors.DefaultSelector()
    for c in conns:
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ, c)
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < len(conns) and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            c = key.data
            try:
                chunk = c.sock.recv(4096)
            except BlockingIOError:
                continue
            now = time.monotonic()
            c.buf += chunk
            if not chunk or re.search(rb"\* \d+ EXISTS\r\n", c.buf):
                sel.unregister(c.sock)
                if chunk:
                    got.append(now)
    sel.close()
    return got
