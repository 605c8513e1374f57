"""Crash safety: 500 messages over 20 concurrent SMTP sessions (and, smaller,
over sendmail) while tern processes are killed with SIGKILL at random moments
and restarted. Every message acknowledged (250 after DATA, or sendmail exit 0)
must be in its Maildir exactly once, and no message may be delivered twice."""
import collections
import os
import random
import re
import signal
import smtplib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import wait_for
from queue_env import QueueEnv
from smtpd_env import SmtpdRunner

USERS = [f"u{i}@example.test" for i in range(5)]


@pytest.fixture
def env(tmp_parent):
    e = QueueEnv(tmp_parent, queued_conf={"minimal_backoff_time": "1s",
                                          "maximal_backoff_time": "2s"})
    for u in USERS:
        e.add_user(u)
    e.start()
    e.smtpd = SmtpdRunner(e.dir, e.hostname)
    e.smtpd.start()
    yield e
    try:
        e.smtpd.stop()
    finally:
        e.stop()


def kill(env, name):
    if name == "smtpd":
        p, env.smtpd.proc = env.smtpd.proc, None
        if p and p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=20)
    else:
        env.kill(name)


def restart(env, name):
    {"queued": env.start_queued, "deliverd": env.start_deliverd,
     "authd": env.start_auth, "smtpd": env.smtpd.start}[name]()


def alive(env, name):
    p = env.smtpd.proc if name == "smtpd" else env.procs.get(name)
    return p is not None and p.poll() is None


def killer(env, stop, kills, progress, total, names, gate):
    """Kill at 6 random points of the run (measured in finished submissions), so
    every kill lands while sessions are committing and deliveries are running.
    gate["next"] is the next point: sessions wait when they get more than a few
    messages past it, so a fast run cannot finish before the killer is done."""
    rnd = random.Random(int(os.environ.get("TERN_CRASH_SEED", "0")) or None)
    groups = [[n] for n in names] + [["queued", "deliverd"], list(names)]
    for point in sorted(rnd.sample(range(total // 20, total - total // 10), 6)):
        gate["next"] = point
        while not stop.is_set() and len(progress) < point:
            time.sleep(0.01)
        if stop.is_set():
            break
        time.sleep(rnd.uniform(0, 0.05))
        victims = rnd.choice(groups)
        for v in victims:
            kill(env, v)
        kills.append(victims)
        time.sleep(rnd.uniform(0, 0.3))
        for v in ("authd", "queued", "deliverd", "smtpd"):
            if v in victims:
                restart(env, v)
    gate["next"] = float("inf")


def body(i, attempt=0):
    token = f"crash-{i:04d}-{attempt}"
    return token, (f"Subject: {token}\r\nX-Test-Id: {token}\r\n\r\n{token}\r\n"
                   + ("x" * 70 + "\r\n") * (i % 7 * 5))


reasons = collections.Counter()


def smtp_sessions(env, total, sessions, record):
    def connect():
        deadline = time.monotonic() + 60
        while True:
            try:
                return smtplib.SMTP("127.0.0.1", env.smtpd.port("smtp"), timeout=60)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def session(k):
        """Like an MTA: after a 4xx reply the message is sent again (bounded),
        but under a new token: a 4xx after the commit was durable (queued killed
        before it could answer) makes a legitimate duplicate, which is not what
        this test counts. A lost connection ends the message: not acknowledged."""
        s = None
        for i in range(k, total, sessions):
            ok = False
            deadline = time.monotonic() + 60
            attempt = 0
            while time.monotonic() < deadline:
                token, text = body(i, attempt)
                attempt += 1
                try:
                    s = s or connect()
                    ok = s.sendmail("sender@remote.test", [USERS[i % len(USERS)]], text) == {}
                    break
                except smtplib.SMTPRecipientsRefused as e:
                    record(i, token, False, final=False)
                    code = min(c for c, _ in e.recipients.values())
                    try:
                        s.rset()	# (after a 421 smtplib has closed it already)
                    except (smtplib.SMTPException, OSError):
                        s = None
                    if code >= 500:
                        reasons[f"rcpt {code}"] += 1
                        break
                except smtplib.SMTPResponseException as e:
                    record(i, token, False, final=False)
                    if e.smtp_code >= 500:
                        reasons[f"{e.smtp_code} {e.smtp_error[:60]}"] += 1
                        break
                    try:
                        s.rset()
                    except (smtplib.SMTPException, OSError):
                        s = None
                except (smtplib.SMTPException, OSError) as e:
                    reasons[type(e).__name__] += 1
                    s = None
                    break
                time.sleep(0.1)
            record(i, token, ok)
        if s:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass
    with ThreadPoolExecutor(sessions) as pool:
        list(pool.map(session, range(sessions)))


def sendmail_sessions(env, total, sessions, record):
    def send(i):
        token, text = body(i)
        p = env.sendmail("-i", "-f", "sender@example.test", USERS[i % len(USERS)],
                         input=text.replace("\r\n", "\n"), check=False)
        record(i, token, p.returncode == 0)
    with ThreadPoolExecutor(sessions) as pool:
        list(pool.map(send, range(total)))


@pytest.mark.parametrize("transport,total,sessions", [("smtp", 500, 20), ("sendmail", 150, 10)])
def test_kill9_loses_and_duplicates_nothing(env, transport, total, sessions):
    acked, failed, progress = set(), set(), []
    reasons.clear()
    lock = threading.Lock()

    gate = {"next": float("inf")}

    def record(i, token, ok, final=True):
        with lock:
            (acked if ok else failed).add(token)
            if final:
                progress.append(i)
        if final:	# keep within reach of the killer (bounded wait)
            deadline = time.monotonic() + 60
            while len(progress) > gate["next"] + 15 and time.monotonic() < deadline:
                time.sleep(0.01)

    names = ["queued", "deliverd", "authd"] + (["smtpd"] if transport == "smtp" else [])
    stop = threading.Event()
    kills = []
    k = threading.Thread(target=killer, args=(env, stop, kills, progress, total, names, gate))
    k.start()
    try:
        (smtp_sessions if transport == "smtp" else sendmail_sessions)(env, total, sessions, record)
    finally:
        stop.set()
        k.join(timeout=120)
    for name in names:		# everything running again
        if not alive(env, name):
            restart(env, name)
    # What stays queued is only interrupted commits, kept on hold by recovery:
    # never acknowledged (the client got a 4xx or lost the connection).
    ok = wait_for(lambda: all(l.split()[5] == "held" for l in env.queue_list()), 180)
    assert ok, "\n".join(env.queue_list()) + env.log_text()[-3000:]
    held = []
    for line in env.queue_list():
        with open(env.path("spool", "msg", line.split()[0]), "rb") as f:
            held.append(re.search(rb"^X-Test-Id: (crash-\d+-\d+)", f.read(), re.M).group(1).decode())
    assert not set(held) & acked, "an acknowledged message was held"

    seen = collections.Counter()
    for u in USERS:
        for path in env.maildir_files(u):
            with open(path, "rb") as f:
                m = re.search(rb"^X-Test-Id: (crash-\d+-\d+)$", f.read(), re.M)
            if m:
                seen[m.group(1).decode()] += 1
    lost = sorted(t for t in acked if seen[t] == 0)
    dups = sorted(t for t, n in seen.items() if n > 1)
    print(f"\ncrash test ({transport}): {len(kills)} kill rounds {kills}; {len(acked)} "
          f"acknowledged, {len(failed)} not; delivered {len(seen)}; held {len(held)}; "
          f"lost {len(lost)}; duplicated {len(dups)}")
    print("not acknowledged because:", dict(reasons))
    assert len(kills) >= 3
    assert len(acked) > total // 4	# liveness only; safety below
    assert lost == [] and dups == []
