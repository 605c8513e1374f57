"""Deterministic test messages and Maildir filling.

Messages are plain RFC 5322 text with LF line endings (as both tern and
Dovecot store them). One message in 100 has the word SUBJECT_WORD in its
Subject, another one in 100 has BODY_WORD in its body, so searches have a
known answer. Files are written once into a corpus directory and hard-linked
into each server's Maildir under that server's naming convention (the same
inodes for both: neither gets a warmer page cache)."""
import os
import random
import time

SUBJECT_WORD = "zebraquota"
BODY_WORD = "kumquatlantern"
WORDS = ("the quarterly report shows that shipping volumes rose while costs fell "
         "across most regions meeting agenda budget review please find attached notes "
         "from yesterday call about the new office lease and the server migration plan "
         "thanks regards invoice delivery schedule customer feedback summary").split()


def subject_hit(i):
    return i % 100 == 7


def body_hit(i):
    return i % 100 == 13


def message(i, size, rng, to="user@bench.test", stored=True):
    """Message number i of about size bytes (LF endings), as bytes. stored:
    with the Return-Path and Delivered-To a delivery agent adds (not for SMTP:
    a Delivered-To naming the mailbox is a mail loop)."""
    subj = " ".join(rng.choice(WORDS) for _ in range(5))
    if subject_hit(i):
        subj += " " + SUBJECT_WORD
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(1.7e9 + i * 37))
    head = (f"Return-Path: <sender{i % 97}@example{i % 13}.org>\nDelivered-To: {to}\n"
            if stored else "")
    head += (f"Received: from mx.example{i % 13}.org (mx.example{i % 13}.org [192.0.2.{i % 250 + 1}])\n"
            f"\tby bench.test with ESMTP id B{i:08d}; {date}\n"
            f"From: Sender {i % 97} <sender{i % 97}@example{i % 13}.org>\n"
            f"To: Bench User <{to}>\n"
            f"Subject: {subj} {i}\n"
            f"Date: {date}\n"
            f"Message-ID: <{i}.bench@example{i % 13}.org>\n"
            f"MIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=us-ascii\n\n")
    body, n = [], len(head)
    hit_line = rng.randrange(0, max(1, (size - n) // 72)) if body_hit(i) else -1
    k = 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(11))[:70]
        if k == hit_line:
            line = line[:50] + " " + BODY_WORD
        body.append(line)
        n += len(line) + 1
        k += 1
    return (head + "\n".join(body) + "\n").encode()


def crlf(data):
    return data.replace(b"\n", b"\r\n")


def write_corpus(directory, count, size, seed=1):
    """count message files 0..count-1 in directory; returns [(path, bytes, crlf bytes)]."""
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(seed)
    out = []
    for i in range(count):
        data = message(i, size + rng.randrange(-size // 4, size // 4 + 1), rng)
        p = os.path.join(directory, f"m{i:07d}")
        with open(p, "wb") as f:
            f.write(data)
        out.append((p, len(data), len(data) + data.count(b"\n")))
    return out


def tern_name(i, size, wsize, host="tern.bench.test"):
    """deliverd's convention: QUEUEID.HASH.HOST,S=<bytes>,W=<bytes with CRLF>."""
    qid = "%08x%08x" % (int(1.7e9) + i // 50, (i * 2654435761) & 0xffffffff)
    return f"{qid}.{(i * 0x9E3779B97F4A7C15) & 0xffffffffffffffff:016x}.{host},S={size},W={wsize}"


def plain_name(i, size, wsize, host="bench.test"):
    """A Maildir name as Dovecot's own delivery writes it."""
    return f"{int(1.7e9) + i // 50}.M{i % 1000000}P{4242 + i // 1000000}.{host},S={size},W={wsize}"


def fill_maildir(corpus, maildir, naming, sub="cur", flags=True, owner=None):
    """Hard-link the corpus into maildir/sub under naming(i, S, W); in cur/
    every second message is \\Seen. Removes what was there before."""
    d = os.path.join(maildir, sub)
    for s in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, s), exist_ok=True)
        for n in os.listdir(os.path.join(maildir, s)):
            os.unlink(os.path.join(maildir, s, n))
    for i, (path, size, wsize) in enumerate(corpus):
        name = naming(i, size, wsize)
        if sub == "cur":
            name += ":2,S" if (flags and i % 2) else ":2,"
        os.link(path, os.path.join(d, name))
    if owner:
        for s in ("cur", "new", "tmp"):
            os.chown(os.path.join(maildir, s), *owner)
        os.chown(maildir, *owner)
