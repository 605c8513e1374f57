"""Disk full: the spool lives on a small tmpfs. Submissions fail with a
temporary error ("insufficient system storage", SMTP 452) once it is full,
nothing half-written is acknowledged or left behind, and every acknowledged
message is delivered intact when deliveries resume and space returns."""
import hashlib
import os
import re
import subprocess

import pytest

from conftest import IS_ROOT, wait_for
from queue_env import QueueEnv

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="mounting a tmpfs needs root (CI runs as root)")


@pytest.fixture
def env(tmp_parent):
    e = QueueEnv(tmp_parent, queued_conf={"queue_minfree": "1m"})
    spool = e.path("spool")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", spool], check=True)
    try:
        e.add_user("alice@example.test")
        e.start()
        yield e
    finally:
        e.stop()
        subprocess.run(["umount", "-l", spool], check=False)


def message(i):
    line = (f"{i:04d} " + "y" * 70 + "\n")
    body = line * (1_200_000 // len(line))
    return f"Subject: big {i}\nX-Test-Id: full-{i}\n\n" + body


def digest(text):
    # what the Maildir holds: the body with LF endings
    return hashlib.sha256(text.split("\n\n", 1)[1].encode()).hexdigest()


def test_disk_full_refuses_then_recovers(env):
    env.ctl("queue", "pause")
    acked, refusals = {}, []
    for i in range(20):
        text = message(i)
        p = env.sendmail("-i", "alice@example.test", input=text, check=False)
        if p.returncode == 0:
            acked[f"full-{i}"] = digest(text)
        else:
            refusals.append((p.returncode, p.stderr))
            if len(refusals) >= 3:
                break
    assert len(refusals) == 3, "the spool never filled up"
    assert 0 < len(acked) < 8
    for rc, err in refusals:
        assert rc == 75 and "insufficient system storage" in err, err
    # Nothing half-written is kept or indexed.
    assert os.listdir(env.path("spool", "incoming")) == []
    assert len(env.queue_list()) == len(acked)
    assert "0 unreadable file(s)" in env.ctl("queue", "rebuild").stdout
    assert len(env.queue_list()) == len(acked)
    log = env.log_text()
    assert re.search(r"enqueue refused: less than|spool file system full|"
                     r"enqueue aborted by the client", log)

    # Below queue_minfree even a small message is refused up front.
    st = os.statvfs(env.path("spool"))
    filler = env.path("spool", "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - 512 * 1024))
    p = env.sendmail("-i", "alice@example.test", input="Subject: small\n\nsmall\n", check=False)
    assert p.returncode == 75
    assert "queue refused the message: insufficient system storage" in p.stderr
    assert "enqueue refused: less than" in env.log_text()
    os.unlink(filler)

    # Space returns as the queue drains: everything acknowledged arrives intact.
    env.ctl("queue", "resume")
    env.wait_mail("alice@example.test", count=len(acked), timeout=60)
    env.wait_queue_empty(timeout=60)
    text = message(99)
    env.sendmail("-i", "alice@example.test", input=text)
    acked["full-99"] = digest(text)
    files = env.wait_mail("alice@example.test", count=len(acked), timeout=60)
    got = {}
    for path in files:
        with open(path, "rb") as f:
            data = f.read().decode()
        token = re.search(r"^X-Test-Id: (full-\d+)$", data, re.M).group(1)
        assert token not in got, "duplicate delivery"
        got[token] = hashlib.sha256(data.split("\n\n", 1)[1].encode()).hexdigest()
    assert got == acked
