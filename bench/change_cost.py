#!/usr/bin/python3
"""What a change costs the IMAP commands that follow it, on a large folder.

Makes a private instance (mailctl init), links N small messages into a user's
cur/, logs in over IMAP and SELECTs INBOX (the first open indexes them), then
times, R times each: a NOOP with nothing changed; a UID STORE of one message's
flags; the NOOP right after that change (before this work it re-read cur/ for
two seconds after any change); the NOOP after a delivery-like file dropped in
new/; the NOOP after a second session changed one message's flags. Prints the
median and the maximum of each in milliseconds.

    bench/change_cost.py [--bin build/bin] [--messages 20000,100000] [--rounds 30]
Stops the instance and removes it at the end. Loopback only.
"""
import argparse
import imaplib
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MSG = (b"From: bench@bench.test\nTo: u@bench.test\nSubject: message %d\n"
       b"Message-ID: <%d@bench.test>\n\n" + b"body line of the message\n" * 20)


def ctl(binary, d, *args, input=None):
    return subprocess.run([binary, "-c", d, *args], input=input, text=True, check=True,
                          capture_output=True, timeout=600)


def owner(d):
    try:
        pw = pwd.getpwnam("tern-vmail")
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        st = os.stat(os.path.join(d, "mail"))
        return st.st_uid, st.st_gid


def fill(maildir, n, own, corpus_dir):
    """n hard links (one file per 1000 messages) named like deliverd's files."""
    cur = os.path.join(maildir, "cur")
    src = None
    for i in range(n):
        if i % 1000 == 0:
            src = os.path.join(corpus_dir, f"m{i}")
            with open(src, "wb") as f:
                f.write(MSG % (i, i))
            os.chown(src, *own)
        os.link(src, os.path.join(cur, f"{1700000000 + i // 50}.M{i}P1.bench.test,S=600:2,"))


def timed(fn):
    t0 = time.monotonic()
    fn()
    return (time.monotonic() - t0) * 1000


def ok(r):
    if r[0] != "OK":
        raise RuntimeError(r)
    return r


def run(binary, n, rounds, port_base):
    top = tempfile.mkdtemp(prefix="tern-bench-")
    os.chmod(top, 0o755)
    d = os.path.join(top, "inst")
    try:
        subprocess.run([binary, "init", d, "--domain", "bench.test", "--port-base", str(port_base)],
                       check=True, capture_output=True, timeout=120)
        with open(os.path.join(d, "imapd.conf"), "a") as f:
            f.write("plaintext_auth_networks = 127.0.0.0/8, ::1\n")
        ctl(binary, d, "user", "add", "u@bench.test", input="bench-pw-1234\n")
        own = owner(d)
        maildir = os.path.join(d, "mail", "bench.test", "u")
        fill(maildir, n, own, top)
        ctl(binary, d, "start")
        c = imaplib.IMAP4("127.0.0.1", port_base + 143, timeout=600)
        c.login("u@bench.test", "bench-pw-1234")
        first = timed(lambda: ok(c.select("INBOX")))
        other = imaplib.IMAP4("127.0.0.1", port_base + 143, timeout=600)
        other.login("u@bench.test", "bench-pw-1234")
        ok(other.select("INBOX"))
        noop, store, after, newmail, theirs = [], [], [], [], []
        for r in range(rounds):
            noop.append(timed(lambda: ok(c.noop())))
            uid = str(1 + (r * 7919) % n)
            store.append(timed(lambda: ok(c.uid("STORE", uid, "+FLAGS", "(\\Flagged)"))))
            after.append(timed(lambda: ok(c.noop())))
            p = os.path.join(maildir, "new", f"{int(time.time())}.M{r}P2.bench.test")
            with open(os.path.join(maildir, "tmp", "x"), "wb") as f:
                f.write(MSG % (n + r, n + r))
            os.chown(os.path.join(maildir, "tmp", "x"), *own)
            os.rename(os.path.join(maildir, "tmp", "x"), p)
            newmail.append(timed(lambda: ok(c.noop())))
            ok(other.uid("STORE", str(1 + (r * 104729) % n), "+FLAGS", "(\\Answered)"))
            theirs.append(timed(lambda: ok(c.noop())))
        other.logout()
        c.logout()
        print(f"messages={n} first SELECT {first:.0f} ms")
        for name, v in (("NOOP, nothing changed", noop), ("UID STORE one message", store),
                        ("NOOP after that STORE", after), ("NOOP after a file in new/", newmail),
                        ("NOOP after another's STORE", theirs)):
            print(f"  {name:28s} median {statistics.median(v):8.2f} ms   max {max(v):8.2f} ms")
        sys.stdout.flush()
    finally:
        subprocess.run([binary, "-c", d, "stop"], capture_output=True, timeout=120)
        shutil.rmtree(top, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin"))
    ap.add_argument("--messages", default="20000,100000")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--port-base", type=int, default=23000)
    a = ap.parse_args()
    for n in (int(x) for x in a.messages.split(",")):
        run(os.path.join(a.bin, "mailctl"), n, a.rounds, a.port_base)


if __name__ == "__main__":
    main()
