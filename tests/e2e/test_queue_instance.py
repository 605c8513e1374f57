"""The queue and local delivery in a whole instance (`mailctl init/start`):
supervised by the master, which restarts a killed queued or deliverd; mail
accepted over SMTP survives kill -9 of any tern process, the master included
(then the test starts the instance again)."""
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

from conftest import IS_ROOT, wait_for
from test_foundation import all_running, instance_procs, status

USERS = [f"u{i}@example.test" for i in range(3)]


@pytest.fixture
def inst(instance):
    for u in USERS:
        instance.add_user(u, "Secret-pw-123")
    return instance


def maildir_tokens(inst):
    seen = collections.Counter()
    for u in USERS:
        for sub in ("new", "cur"):
            d = os.path.join(inst.maildir(u), sub)
            for n in os.listdir(d) if os.path.isdir(d) else []:
                with open(os.path.join(d, n), "rb") as f:
                    m = re.search(rb"^X-Test-Id: (\S+)$", f.read(), re.M)
                if m:
                    seen[m.group(1).decode()] += 1
    return seen


def safe_status(inst):
    """status rows, or {} while the master is not answering (being restarted)."""
    p = inst.ctl("status", check=False)
    out = {}
    for line in p.stdout.splitlines() if p.returncode == 0 else []:
        name, pid, user, state = line.split()
        out.setdefault(name, []).append((pid, user, state))
    return out


def kill9(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def queue_lines(inst):
    return [l for l in inst.ctl("queue", "list").stdout.splitlines() if l.strip()]


def test_supervised_queue_and_local_delivery(inst):
    st = status(inst)
    assert st["queued"][0][2] == "running" and st["deliverd-local"][0][2] == "running"
    if IS_ROOT:
        assert st["queued"][0][1] == "tern-queued" and st["deliverd-local"][0][1] == "tern-vmail"
    inst.ctl("sendmail", "-i", "u0@example.test", input="X-Test-Id: one\nSubject: s\n\nhi\n")
    with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30) as s:
        s.sendmail("x@remote.test", ["u1@example.test"], "X-Test-Id: two\r\nSubject: s\r\n\r\nhi\r\n")
    assert wait_for(lambda: maildir_tokens(inst) == {"one": 1, "two": 1}, 20), maildir_tokens(inst)
    # kill -9 queued: the master restarts it and mail flows again.
    pid = int(st["queued"][0][0])
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: (r := status(inst)["queued"][0])[0] not in ("-", str(pid))
                    and r[2] == "running", 30)
    inst.ctl("sendmail", "-i", "u2@example.test", input="X-Test-Id: three\nSubject: s\n\nhi\n")
    assert wait_for(lambda: maildir_tokens(inst).get("three") == 1, 30), inst.log_text()[-3000:]


def test_kill9_under_the_master_loses_nothing(inst):
    total, sessions = 200, 10
    acked, progress = set(), []
    lock = threading.Lock()

    def session(k):
        s = None
        for i in range(k, total, sessions):
            ok, token, attempt = False, None, 0
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                token = f"m{i}-{attempt}"	# a new token per try: a 4xx retry is a new message
                attempt += 1
                if s is None:	# connecting sends nothing: always safe to try again
                    try:
                        s = smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=60)
                    except (smtplib.SMTPException, OSError):
                        time.sleep(0.2)
                        continue
                try:
                    ok = s.sendmail("x@remote.test", [USERS[i % len(USERS)]],
                                    f"X-Test-Id: {token}\r\nSubject: {token}\r\n\r\nbody\r\n") == {}
                    break
                except smtplib.SMTPResponseException as e:
                    if e.smtp_code >= 500:
                        break
                    s = None
                except (smtplib.SMTPException, OSError):
                    s = None	# lost mid-transaction: unknown, never resent
                    break
                time.sleep(0.2)
            with lock:
                if ok:
                    acked.add(token)
                progress.append(i)

    kills = []

    def killer():
        rnd = random.Random()
        for n, point in enumerate(sorted(rnd.sample(range(20, total - 20), 5))):
            while len(progress) < point:
                time.sleep(0.01)
            if n == 2:	# the master and everything: the test starts the instance again
                for pid in instance_procs(inst.dir):
                    kill9(pid)
                kills.append("all")
                wait_for(lambda: not instance_procs(inst.dir), 10)
                inst.ctl("start")
                continue
            name = rnd.choice(["queued", "deliverd-local", "authd", "smtpd"])
            # (it may still be coming back from the previous kill)
            wait_for(lambda: safe_status(inst).get(name, [("-", "", "")])[0][2] == "running", 20)
            row = safe_status(inst).get(name, [("-", "", "")])[0]
            if row[0] != "-":
                kill9(int(row[0]))
            kills.append(name)

    k = threading.Thread(target=killer)
    k.start()
    with ThreadPoolExecutor(sessions) as pool:
        list(pool.map(session, range(sessions)))
    k.join(timeout=120)
    assert wait_for(lambda: safe_status(inst) and all_running(inst), 60)
    assert wait_for(lambda: all(l.split()[5] == "held" for l in queue_lines(inst)), 120), \
        queue_lines(inst)
    seen = maildir_tokens(inst)
    lost = sorted(t for t in acked if seen[t] == 0)
    dups = sorted(t for t, n in seen.items() if n > 1)
    print(f"\nmaster crash test: kills {kills}; {len(acked)} acknowledged; delivered {len(seen)}; "
          f"lost {len(lost)}; duplicated {len(dups)}")
    assert len(kills) == 5 and len(acked) > total // 5	# liveness only; safety below
    assert lost == [] and dups == []
