"""Crash safety: 500 messages over 20 concurrent submission sessions while
tern processes are killed with SIGKILL at random moments and restarted. Every
message acknowledged (sendmail exit 0) must be in its Maildir exactly once, and
no message may be delivered twice."""
import collections
import os
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import wait_for
from queue_env import QueueEnv

MESSAGES = 500
SESSIONS = 20
USERS = [f"u{i}@example.test" for i in range(5)]


@pytest.fixture
def env(tmp_parent):
    e = QueueEnv(tmp_parent, queued_conf={"minimal_backoff_time": "1s",
                                          "maximal_backoff_time": "2s"})
    for u in USERS:
        e.add_user(u)
    e.start()
    yield e
    e.stop()


def restart(env, name):
    {"queued": env.start_queued, "deliverd": env.start_deliverd,
     "authd": env.start_auth}[name]()


def killer(env, stop, kills, progress):
    """Kill at 6 random points of the run (measured in finished submissions), so
    every kill lands while sessions are committing and deliveries are running."""
    rnd = random.Random(int(os.environ.get("TERN_CRASH_SEED", "0")) or None)
    points = sorted(rnd.sample(range(20, MESSAGES - 40), 6))
    for point in points:
        while not stop.is_set() and len(progress) < point:
            time.sleep(0.01)
        if stop.is_set():
            break
        time.sleep(rnd.uniform(0, 0.05))
        victims = rnd.choice([["queued"], ["deliverd"], ["authd"], ["queued", "deliverd"],
                              ["queued", "deliverd", "authd"]])
        for v in victims:
            env.kill(v)
        kills.append(victims)
        time.sleep(rnd.uniform(0, 0.3))
        for v in ("authd", "queued", "deliverd"):
            if v in victims:
                restart(env, v)


def test_kill9_loses_and_duplicates_nothing(env):
    acked, failed = set(), set()
    lock = threading.Lock()

    def send(i):
        token = f"crash-{i:04d}"
        rcpt = USERS[i % len(USERS)]
        body = f"Subject: {token}\nX-Test-Id: {token}\n\n{token} body\n" + "x" * (i % 7 * 300)
        p = env.sendmail("-i", "-f", "sender@example.test", rcpt, input=body, check=False)
        with lock:
            (acked if p.returncode == 0 else failed).add(token)
            progress.append(i)

    stop = threading.Event()
    kills, progress = [], []
    k = threading.Thread(target=killer, args=(env, stop, kills, progress))
    k.start()
    try:
        with ThreadPoolExecutor(SESSIONS) as pool:
            list(pool.map(send, range(MESSAGES)))
    finally:
        stop.set()
        k.join(timeout=120)
    # Everything running again (a restart may have raced with the end).
    for name in ("authd", "queued", "deliverd"):
        p = env.procs.get(name)
        if p is None or p.poll() is not None:
            restart(env, name)
    env.wait_queue_empty(timeout=180)

    seen = collections.Counter()
    for u in USERS:
        for path in env.maildir_files(u):
            with open(path, "rb") as f:
                m = re.search(rb"^X-Test-Id: (crash-\d+)$", f.read(), re.M)
            if m:
                seen[m.group(1).decode()] += 1
    lost = sorted(t for t in acked if seen[t] == 0)
    dups = sorted(t for t, n in seen.items() if n > 1)
    print(f"\ncrash test: {len(kills)} kill rounds {kills}; {len(acked)} acknowledged, "
          f"{len(failed)} refused; delivered {len(seen)}; lost {len(lost)}; duplicated {len(dups)}")
    assert len(kills) >= 3
    assert len(acked) > MESSAGES // 2
    assert lost == [] and dups == []
    assert sum(seen.values()) == len(seen)
