"""Workload jmap: what the webmail asks of the large folder over JMAP (RFC
8621), beside IMAP doing the same work on the same instance, and push
latency.

- The newest 50 messages of the folder (imap_msgs, 100,000 in a full run):
  JMAP is a fresh HTTPS connection with Basic authentication, GET the session
  resource, Mailbox/query for the inbox, then the webmail's list request
  (Email/query sorted by receivedAt, collapseThreads, calculateTotal, limit
  50, with Email/get of the list's properties and previews by result
  reference). IMAP is a fresh connection, LOGIN, SELECT, and FETCH of the
  last 50 sequence numbers (UID FLAGS INTERNALDATE ENVELOPE and the first
  256 bytes of the text, the preview's source). Cold: the folder index
  dropped, and for JMAP also the journal and the thread store, with the
  user's mail process gone (httpd's session_idle_time, set short here);
  warm: the same again at once.
- Push: an EventSource stream open (RFC 8620 7.3), one message at a time
  over SMTP into that folder: the time from the 250 after DATA to the state
  event on the stream."""
import base64
import http.client
import json
import os
import random
import re
import socket
import ssl
import statistics
import threading
import time

import mailgen
from clients import Imap, Smtp, imap_count
from report import Partial
from util import log
from w_smtp import SENDER

NEWEST = 50
# the properties of the webmail's message list (httpd/webmail/app.js)
LIST_PROPS = ["threadId", "mailboxIds", "keywords", "from", "subject", "receivedAt", "preview",
              "hasAttachment"]
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]
IDLE_S = 2                # httpd's session_idle_time in the bench (tern.py SETTINGS)
EVENT_WAIT_S = 60         # a delivery's event later than this counts as lost


class Https:
    """One HTTPS connection of a JMAP client with Basic authentication."""

    def __init__(self, port, user, password, cafile):
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
        self.ctx = ctx
        self.c = http.client.HTTPSConnection("127.0.0.1", port, timeout=300, context=ctx)
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def get(self, path):
        self.c.request("GET", path, headers={"Authorization": self.auth})
        return self.answer(path)

    def session(self):
        """The session resource; its mail account is used by api()."""
        s = self.get("/jmap/session")
        self.account = s["primaryAccounts"]["urn:ietf:params:jmap:mail"]
        return s

    def api(self, calls):
        calls = [[name, {"accountId": self.account, **args}, cid] for name, args, cid in calls]
        body = json.dumps({"using": USING, "methodCalls": calls}).encode()
        self.c.request("POST", "/jmap/api", body=body,
                       headers={"Authorization": self.auth, "Content-Type": "application/json"})
        out = {}
        for name, args, cid in self.answer("/jmap/api")["methodResponses"]:
            if name == "error":
                raise RuntimeError(f"JMAP {cid}: {args}")
            out[cid] = args
        return out

    def answer(self, what):
        r = self.c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"{what}: HTTP {r.status} {body[:200]!r}")
        return json.loads(body)

    def close(self):
        self.c.close()


class JmapLarge:
    key, number, title = "jmap", 7, "JMAP: newest 50 of the large folder, push latency"

    def __init__(self, ctx):
        self.ctx = ctx
        self.p = ctx.params
        self.user = ctx.jmap_user
        self.n = self.p["imap_msgs"]

    def systems(self):
        return [("tern", "jmap")]

    def prepare(self, active):
        corpus = self.ctx.corpus("imap", self.n, self.p["imap_size"])
        t = self.ctx.tern
        log(f"jmap: linking {self.n} messages into tern's Maildir")
        mailgen.fill_maildir(corpus, t.maildir(self.user), mailgen.tern_name, owner=t.mail_owner())

    def finish(self, active):
        pass

    def https(self):
        t = self.ctx.tern
        return Https(t.port("https"), self.user, self.ctx.password(self.user),
                     os.path.join(t.dir, "tls", "cert.pem"))

    def drop_jmap_state(self):
        """Cold for JMAP: the user's mail process ended (idle), then the
        folder index, the journal and the thread store removed."""
        time.sleep(IDLE_S + 1.5)
        t = self.ctx.tern
        if not t.drop_index(self.user):
            raise RuntimeError("could not drop the folder index")
        md = t.maildir(self.user)
        for n in os.listdir(md):
            if n.startswith(("tern-jmap.db", "tern-threads.db")) and not n.endswith(".lock"):
                os.unlink(os.path.join(md, n))

    def jmap_newest(self):
        """(total s, list request alone s): session, Mailbox/query, list."""
        t0 = time.monotonic()
        h = self.https()
        try:
            h.session()
            inbox = h.api([["Mailbox/query", {"filter": {"role": "inbox"}}, "m"]])["m"]["ids"][0]
            t1 = time.monotonic()
            r = h.api([
                ["Email/query", {"filter": {"inMailbox": inbox},
                                 "sort": [{"property": "receivedAt", "isAscending": False}],
                                 "collapseThreads": True, "position": 0, "limit": NEWEST,
                                 "calculateTotal": True}, "q"],
                ["Email/get", {"#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
                               "properties": LIST_PROPS}, "g"]])
            t2 = time.monotonic()
        finally:
            h.close()
        # the push deliveries of earlier repetitions are in the folder too
        if len(r["g"]["list"]) != NEWEST or r["q"]["total"] < self.n:
            raise RuntimeError(f"Email/query: {len(r['g']['list'])} listed of {r['q'].get('total')}")
        return t2 - t0, t2 - t1

    def imap_newest(self):
        """(total s, FETCH alone s): LOGIN, SELECT, FETCH of the last 50."""
        t0 = time.monotonic()
        c = Imap(self.ctx.tern.port("imap"))
        try:
            c.login(self.user, self.ctx.password(self.user))
            sel, _ = c.cmd("SELECT INBOX")
            exists = int(re.search(rb"^\* (\d+) EXISTS", sel, re.M).group(1))
            t1 = time.monotonic()
            untagged, _ = c.cmd(f"FETCH {exists - NEWEST + 1}:* "
                                "(UID FLAGS INTERNALDATE ENVELOPE BODY.PEEK[TEXT]<0.256>)")
            t2 = time.monotonic()
            c.cmd("LOGOUT")
        finally:
            c.close()
        if imap_count(untagged) != NEWEST:
            raise RuntimeError(f"FETCH returned {imap_count(untagged)} of {NEWEST}")
        return t2 - t0, t2 - t1

    def push(self, deliveries, rep):
        """Per delivery (seconds): its state event's arrival less the 250
        after DATA (below 0 when the event came first: queued hands the
        message to deliverd before its group commit answers), and less the
        moment the end of the data was sent."""
        t = self.ctx.tern
        h = self.https()
        try:
            url = h.session()["eventSourceUrl"]
        finally:
            h.close()
        path = re.sub(r"^https?://[^/]+", "", url).replace("{types}", "*").replace(
            "{closeafter}", "no").replace("{ping}", "0")
        stream = EventStream(h, t.port("https"), path)
        smtp = Smtp(t.port("smtp"))
        from_250, from_dot, lost = [], [], 0
        try:
            for k in range(deliveries):
                stream.quiet(1.0, 15)      # no event of earlier work still on its way
                i = self.n + rep * deliveries + k          # a Message-ID of its own
                data = mailgen.crlf(mailgen.message(i, 2000, random.Random(i), to=self.user,
                                                    stored=False))
                ok = smtp.send_message(SENDER, self.user, data)
                dot = smtp.data_sent_at
                event = stream.first_after(dot, EVENT_WAIT_S)
                if event is None:
                    lost += 1
                    continue
                from_250.append(event - ok)
                from_dot.append(event - dot)
        finally:
            smtp.quit()
            stream.close()
        return from_250, from_dot, lost

    def run(self, system, rep):
        self.drop_jmap_state()
        jcold, jcold_req = self.jmap_newest()
        jwarm, jwarm_req = self.jmap_newest()
        if not self.ctx.tern.drop_index(self.user):
            raise RuntimeError("could not drop the folder index")
        icold, icold_req = self.imap_newest()
        iwarm, iwarm_req = self.imap_newest()
        x = {"messages": self.n, "listed": NEWEST}
        figs = [("JMAP session+Mailbox/query+Email/query+get newest 50, cold", jcold, "s", "lower", x),
                ("JMAP session+Mailbox/query+Email/query+get newest 50, warm", jwarm, "s", "lower", x),
                ("JMAP Email/query+get request alone, cold", jcold_req, "s", "lower", x),
                ("JMAP Email/query+get request alone, warm", jwarm_req, "s", "lower", x),
                ("IMAP LOGIN+SELECT+FETCH newest 50, cold", icold, "s", "lower", x),
                ("IMAP LOGIN+SELECT+FETCH newest 50, warm", iwarm, "s", "lower", x),
                ("IMAP FETCH alone, cold", icold_req, "s", "lower", x),
                ("IMAP FETCH alone, warm", iwarm_req, "s", "lower", x)]
        try:
            lat, lat_dot, lost = self.push(self.p["push_deliveries"], rep)
        except Exception as e:
            raise Partial(figs, f"push: {e}") from e
        for name, vals in (("SMTP 250", lat), ("end of SMTP DATA", lat_dot)):
            if vals:
                figs.append((f"push: {name} to EventSource state event (median)",
                             statistics.median(vals) * 1000, "ms", "lower",
                             {"deliveries": len(vals), "lost": lost,
                              "all_ms": [round(v * 1000, 2) for v in vals]}))
        if lost:
            raise Partial(figs, f"push: {lost} of {self.p['push_deliveries']} deliveries had no "
                                f"state event within {EVENT_WAIT_S} s")
        return figs


class EventStream:
    """An event source request on a raw TLS socket, read by a thread that
    notes the time each state event arrives (so an event that comes before
    the SMTP reply is timed too)."""

    def __init__(self, h, port, path):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s = h.ctx.wrap_socket(raw)
        self.s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n"
                       f"Authorization: {h.auth}\r\n\r\n".encode())
        self.times, self.buf, self.err = [], b"", None
        self.cond = threading.Condition()
        self.open = True
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        self.s.settimeout(0.5)
        while self.open:
            try:
                d = self.s.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            except OSError as e:
                d, self.err = b"", str(e)
            now = time.monotonic()
            with self.cond:
                if not d:
                    self.open = False
                    self.err = self.err or "closed"
                self.buf += d
                n = self.buf.count(b"event: state")
                if n:
                    self.times += [now] * n
                    self.buf = self.buf[self.buf.rindex(b"event: state") + 12:]
                self.cond.notify_all()

    def quiet(self, gap, timeout):
        """Wait (at most timeout) until no event has come for gap seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.cond:
                last = self.times[-1] if self.times else 0.0
            if time.monotonic() - last >= gap:
                return
            time.sleep(0.1)

    def first_after(self, t, timeout):
        """The arrival time of the first event after t, or None if none
        came within timeout; a closed stream is an error."""
        def found():
            return next((x for x in self.times if x > t), None)
        with self.cond:
            self.cond.wait_for(lambda: found() is not None or not self.open, timeout)
            if found() is None and not self.open:
                raise RuntimeError(f"event source: {self.err}")
            return found()

    def close(self):
        self.open = False
        self.thread.join(2)
        self.s.close()


class JmapIdle:
    """Workload jmapidle (issue 17): EventSource connections (RFC 8620 7.3)
    left open and idle, as a phone or a webmail tab keeps one.

    memory: N streams (idle_conns), 16 per user (httpd's most per user; so
    N/16 users, each with its mail process), a settle time, then the PSS and
    RSS of every tern process less what they had before, per stream.
    push: push_conns streams the same way (16 per user), one message over
    SMTP to all their users (one transaction), and the time from its 250
    until the last stream has its state event (every stream must get one
    within 30 s)."""
    key, number, title = "jmapidle", 8, "memory per idle JMAP EventSource connection, push"

    def __init__(self, ctx):
        self.ctx = ctx
        self.p = ctx.params

    def systems(self):
        return [("tern", "jmap")]

    def prepare(self, active):
        pass

    def finish(self, active):
        pass

    def open_stream(self, user):
        t = self.ctx.tern
        h = Https(t.port("https"), user, self.ctx.password(user),
                  os.path.join(t.dir, "tls", "cert.pem"))
        raw = socket.create_connection(("127.0.0.1", t.port("https")), timeout=60)
        try:
            s = h.ctx.wrap_socket(raw)
            s.sendall(b"GET /jmap/eventsource?types=*&closeafter=no&ping=0 HTTP/1.1\r\n"
                      b"Host: bench\r\nAuthorization: " + h.auth.encode() + b"\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                d = s.recv(65536)
                if not d:
                    break
                head += d
        except BaseException:
            raw.close()
            raise
        finally:
            h.close()
        if not head.startswith(b"HTTP/1.1 200"):
            s.close()
            raise RuntimeError(f"event source refused: {head[:120]!r}")
        return s

    def open_all(self, users):
        from concurrent.futures import ThreadPoolExecutor
        streams = []
        try:
            with ThreadPoolExecutor(max_workers=8) as ex:
                for f in [ex.submit(self.open_stream, u) for u in users]:
                    streams.append(f.result(timeout=600))
        except BaseException:
            for s in streams:
                s.close()
            raise
        return streams

    def close_all(self, sysobj, streams, base):
        from util import wait_for
        for s in streams:
            s.close()
        wait_for(lambda: len(sysobj.pids()) <= base + 2, 60, 0.2)

    def memory(self, n):
        from util import memory_kb
        sysobj = self.ctx.tern
        users = self.ctx.idle_users
        before = sysobj.pids()
        base = len(before)
        base_pss, base_rss = memory_kb(before)
        idle_kind = pss_by_kind(before)
        streams = self.open_all(self.targets(n))
        try:
            time.sleep(self.p["idle_settle"])
            pids = sysobj.pids()
            pss, rss = memory_kb(pids)
            by_kind = pss_by_kind(pids)
        finally:
            self.close_all(sysobj, streams, base)
        log(f"jmapidle: PSS KiB by process kind before: {idle_kind}")
        log(f"jmapidle: PSS KiB by process kind at {n} streams: {by_kind}")
        extra = {"connections": n, "users": len(set(self.targets(n))), "processes": len(pids),
                 "pss_by_kind_kb": by_kind, "idle_pss_by_kind_kb": idle_kind,
                 "pss_total_kb": pss, "rss_total_kb": rss, "idle_processes": base,
                 "idle_pss_kb": base_pss, "idle_rss_kb": base_rss,
                 "settle_s": self.p["idle_settle"]}
        return [(f"memory per idle EventSource connection (PSS), {n} connections",
                 (pss - base_pss) / n, "KiB", "lower", extra),
                (f"memory per idle EventSource connection (RSS), {n} connections",
                 (rss - base_rss) / n, "KiB", "lower", extra)]

    def targets(self, n):
        """The user of each of n streams: 16 per user."""
        return [self.ctx.idle_users[i // self.ctx.jmap_per_user] for i in range(n)]

    def push(self, rep):
        import selectors
        import smtplib
        t = self.ctx.tern
        n = self.p["push_conns"]
        users = sorted(set(self.targets(n)))
        base = len(t.pids())
        targets = self.targets(n)
        streams = self.open_all(targets)
        got, wall = {}, {}
        try:
            time.sleep(1.0)
            for s in streams:       # what came before the delivery
                s.setblocking(False)
                try:
                    while s.recv(65536):
                        pass
                except (ssl.SSLWantReadError, BlockingIOError):
                    pass
            msg = (f"From: {SENDER}\r\nTo: {SENDER}\r\nSubject: jmap push {rep}\r\n"
                   f"Message-ID: <jpush{rep}.{time.time()}@sender.example>\r\n\r\nnew\r\n")
            with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=120) as smtp:
                smtp.sendmail(SENDER, users, msg.encode())
                t0 = time.monotonic()       # sendmail returns on the 250
            sel = selectors.DefaultSelector()
            for i, s in enumerate(streams):
                sel.register(s, selectors.EVENT_READ, i)
            deadline = t0 + 30
            while len(got) < n and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=0.5):
                    i, s = key.data, key.fileobj
                    try:
                        d = s.recv(65536)
                    except (ssl.SSLWantReadError, BlockingIOError):
                        continue
                    if not d:
                        sel.unregister(s)
                    elif b"event: state" in d and i not in got:
                        got[i] = time.monotonic()
                        wall[i] = time.time()
                        sel.unregister(s)
            sel.close()
        finally:
            self.close_all(t, streams, base)
        times = sorted(v - t0 for v in got.values())
        # from the message's file in the user's Maildir (its mtime) to each
        # stream's event: push alone, without the delivery to 32 Maildirs
        stored = {u: newest_mtime(t.maildir(u)) for u in users}
        after_file = sorted(wall[i] - stored[targets[i]] for i in wall if stored[targets[i]])
        extra = {"connections": n, "users": len(users), "reached": len(got),
                 "file_to_event_max_ms": after_file[-1] * 1000 if after_file else None,
                 "file_to_event_median_ms":
                     statistics.median(after_file) * 1000 if after_file else None,
                 "first_ms": times[0] * 1000 if times else None,
                 "median_ms": statistics.median(times) * 1000 if times else None}
        if len(got) < n:
            raise Partial([], f"jmap push: {len(got)} of {n} streams had the event in 30 s")
        figs = [(f"delivery (SMTP 250) to the last of {n} EventSource streams ({len(users)} users)",
                 times[-1] * 1000, "ms", "lower", extra)]
        if after_file:
            figs.append((f"message file in the Maildir to the last of {n} EventSource streams' "
                         "event", after_file[-1] * 1000, "ms", "lower", extra))
        return figs

    def run(self, system, rep):
        figs = []
        for n in self.p["idle_conns"]:
            figs += self.memory(n)
        try:
            figs += self.push(rep)
        except Partial as e:
            raise Partial(figs, str(e))
        return figs


def newest_mtime(maildir):
    """The mtime of the newest message file of the Maildir's INBOX, or None."""
    best = None
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            try:
                m = os.stat(os.path.join(d, n)).st_mtime
            except OSError:
                continue
            best = m if best is None or m > best else best
    return best


def pss_by_kind(pids):
    """{"PROGRAM [ARG]": (processes, PSS KiB)} of tern's processes: where the
    memory of the streams is."""
    from util import memory_kb
    kinds = {}
    for p in pids:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        name = os.path.basename(argv[0].decode(errors="replace"))
        flag = next((a.decode() for a in argv[1:] if a.startswith(b"--")), "")
        k = f"{name} {flag}".strip()
        n, kb = kinds.get(k, (0, 0))
        kinds[k] = (n + 1, kb + memory_kb([p])[0])
    return kinds
