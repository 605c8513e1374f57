"""Workloads 1 and 2: SMTP accept rate (Postfix's smtp-source), and SMTP to
Maildir end to end (burst rate; latency at a low steady rate)."""
import os
import random
import re
import threading
import time

import mailgen
from clients import Smtp
from report import Partial
from util import run, wait_for
from watch import NewWatcher

SMTP_SOURCE = "/usr/sbin/smtp-source"
SENDER = "load@sender.example"


def smtp_source(port, sessions, count, size, rcpt, timeout):
    """Run smtp-source; returns elapsed seconds. One message per session
    (its default), so every message costs a connection, as on an MX."""
    t0 = time.monotonic()
    p = run([SMTP_SOURCE, "-s", sessions, "-m", count, "-l", size, "-f", SENDER,
             "-t", rcpt, f"127.0.0.1:{port}"], timeout=timeout, check=False)
    dt = time.monotonic() - t0
    if p.returncode != 0 or "rejected" in p.stderr or "error" in p.stderr.lower():
        raise RuntimeError(f"smtp-source: exit {p.returncode}: {p.stderr.strip()[-300:]}")
    return dt


def clear_maildir_new(maildir):
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))


class SmtpAccept:
    key, number, title = "smtp", 1, "SMTP accept rate (durable 250, deliveries paused)"

    def __init__(self, ctx):
        self.ctx = ctx
        self.p = ctx.params
        self.rcpt = ctx.smtp_user

    def systems(self):
        return [("tern", "smtp"), ("postfix", None)]

    def prepare(self, active):
        if "tern" in active:
            self.ctx.tern.ctl("queue", "pause")

    def finish(self, active):
        if "tern" in active:
            try:
                self.ctx.tern.queue_clear()
            finally:
                self.ctx.tern.ctl("queue", "resume", check=False)

    def run(self, system, rep):
        out, failed = [], []
        for sessions in self.p["accept_sessions"]:
            try:
                out += self.one(system, sessions)
            except Exception as e:          # keep the other concurrency's figure
                failed.append(f"{sessions} sessions: {e}")
        if failed:
            raise Partial(out, "; ".join(failed))
        return out

    def one(self, system, sessions):
        n, size = self.p["accept_msgs"], self.p["msg_size"]
        c0 = self.ctx.system(system).cpu()
        if system == "tern":
            t = self.ctx.tern
            try:
                dt = smtp_source(t.port("smtp"), sessions, n, size, self.rcpt, 60 + n / 5)
                queued = t.spool_count()
            finally:
                t.queue_clear()
        else:
            pf = self.ctx.postfix
            try:
                dt = smtp_source(pf.hold_port, sessions, n, size, self.rcpt, 60 + n / 5)
                queued = pf.hold_count()
            finally:
                pf.clear_hold()
        if queued < n:
            raise RuntimeError(f"{system}: {queued} of {n} messages queued after 250")
        cpu = self.ctx.system(system).cpu() - c0      # includes clearing the queue
        extra = {"messages": n, "seconds": dt, "size": size, "server_cpu_s": cpu}
        return [(f"accept rate, {sessions} sessions", n / dt, "msg/s", "higher", extra),
                (f"server CPU per message, accept + delete, {sessions} sessions",
                 cpu * 1000 / n, "ms", "lower", extra)]


class SmtpToMaildir:
    key, number, title = "e2e", 2, "SMTP to Maildir end to end"

    def __init__(self, ctx):
        self.ctx = ctx
        self.p = ctx.params
        self.rcpt = ctx.smtp_user

    def systems(self):
        return [("tern", "deliver"), ("postfix", None)]

    def prepare(self, active):
        pass

    def finish(self, active):
        for s in active:
            clear_maildir_new(self.ctx.system(s).maildir(self.rcpt))

    def run(self, system, rep):
        sysobj = self.ctx.system(system)
        port = sysobj.port("smtp") if system == "tern" else sysobj.smtp_port
        md = sysobj.maildir(self.rcpt)
        return [*self.burst(sysobj, port, md), *self.steady(port, md, rep)]

    def burst(self, sysobj, port, md):
        """smtp-source as fast as it goes; time until every file is in new/."""
        n = self.p["burst_msgs"]
        clear_maildir_new(md)
        new = os.path.join(md, "new")
        c0 = sysobj.cpu()
        t0 = time.monotonic()
        smtp_source(port, self.p["burst_sessions"], n, self.p["msg_size"], self.rcpt,
                    60 + n / 5)
        ok = wait_for(lambda: len(os.listdir(new)) >= n, 60 + n / 5, 0.01)
        dt = time.monotonic() - t0
        if not ok:
            raise RuntimeError(f"only {len(os.listdir(new))} of {n} messages in new/")
        cpu = sysobj.cpu() - c0
        extra = {"messages": n, "seconds": dt, "sessions": self.p["burst_sessions"],
                 "server_cpu_s": cpu}
        return [("end-to-end rate (burst)", n / dt, "msg/s", "higher", extra),
                ("server CPU per message, SMTP to new/ (burst)", cpu * 1000 / n, "ms", "lower",
                 extra)]

    def steady(self, port, md, rep):
        """n messages at a fixed rate over a few persistent sessions; the
        latency of each is from its 250 to its file appearing in new/."""
        n, rate, k = self.p["steady_msgs"], self.p["steady_rate"], 4
        clear_maildir_new(md)
        w = NewWatcher(os.path.join(md, "new"))
        sent = {}
        errors = []
        rng = random.Random(rep)
        bodies = [mailgen.crlf(mailgen.message(i, self.p["msg_size"], rng, self.rcpt, stored=False))
                  for i in range(n)]
        t0 = time.monotonic() + 0.2

        def sender(j):
            try:
                c = Smtp(port)
                for i in range(j, n, k):
                    delay = t0 + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    tag = f"X-Bench-Id: {i}\r\n".encode()
                    sent[i] = c.send_message(SENDER, self.rcpt, tag + bodies[i])
                c.quit()
            except Exception as e:          # reported below, never hangs
                errors.append(f"sender {j}: {e}")
        threads = [threading.Thread(target=sender, args=(j,)) for j in range(k)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60 + 2 * n / rate)
            ok = wait_for(lambda: w.count() >= n, 60, 0.01)
        finally:
            w.close()
        if errors:
            raise RuntimeError("; ".join(errors))
        if not ok:
            raise RuntimeError(f"only {w.count()} of {n} steady messages arrived")
        lat = []
        for name, seen in w.seen.items():
            i = read_bench_id(os.path.join(md, "new", name))
            if i is not None and i in sent:
                lat.append((seen - sent[i]) * 1000.0)
        lat.sort()
        if len(lat) < n:
            raise RuntimeError(f"matched {len(lat)} of {n} arrivals to their 250")
        total = max(w.seen.values()) - t0
        extra = {"messages": n, "rate": rate, "sessions": k}
        return [("latency p50, 250 to new/ (steady)", pct(lat, 50), "ms", "lower", extra),
                ("latency p99, 250 to new/ (steady)", pct(lat, 99), "ms", "lower", extra),
                (f"time until all {n} in new/ (steady {rate}/s)", total, "s", "lower", extra)]


def read_bench_id(path):
    """The message number: X-Bench-Id, or (for a message stored encrypted,
    whose other fields are inside) the number in its clear Message-ID."""
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError:
        return None
    i = head.find(b"X-Bench-Id: ")
    if i >= 0:
        return int(head[i + 12:head.index(b"\n", i)].strip())
    m = re.search(rb"\nMessage-ID: <(\d+)\.bench@", head)
    return int(m.group(1)) if m else None


def pct(sorted_values, p):
    """Nearest-rank percentile."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]
