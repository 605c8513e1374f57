"""SEARCH on header fields answered from the index's cached field values
(common/mailindex.h, mi_fields_*) gives the results the file parse gives.

Every message carries, next to each cached field (From, To, Cc, Bcc,
Subject, Date, Sender, Reply-To, Message-ID, In-Reply-To), an X-Dup- copy
with the same raw text (same folding, same encoded words). The index caches
only the real fields, so `HEADER X-Dup-Subject s` reads and parses the file
while `SUBJECT s` and `HEADER Subject s` read the cache: for every field and
search string the three must agree, and agree with the expected hits.
Then the index is dropped and rebuilt and everything is asked again."""
import imaplib
import re

import pytest

from imap_harness import ImapInstance, Mailbox, tls_ctx

FIELDS = ("From", "To", "Cc", "Bcc", "Subject", "Date", "Sender", "Reply-To", "Message-ID",
          "In-Reply-To")


def msg(headers, body="body text\r\n"):
    """headers: [(name, raw value)]; each cached field gets its X-Dup- twin."""
    out = []
    for name, value in headers:
        out.append(f"{name}: {value}")
        if name.lower() in (f.lower() for f in FIELDS):
            out.append(f"X-Dup-{name}: {value}")
    return ("\r\n".join(out) + "\r\n\r\n" + body).encode()


MESSAGES = [
    msg([("From", "=?utf-8?q?J=C3=BCrgen?= <jurgen@example.org>"),
         ("To", "a@x.test,\r\n  b@y.test"), ("To", "second-to@z.test"),
         ("Subject", "=?iso-8859-1?q?caf=E9?= =?iso-8859-1?q?_au_lait?= order"),
         ("Date", "Mon, 02 Mar 2026 10:00:00 +0000")]),
    msg([("from", "lower <low@example.org>"), ("SUBJECT", "  spaced   out  "),
         ("CC", "\"Quoted, Name\" <q@x.test>"), ("Bcc", "hidden@example.org"),
         ("Date", "Tue, 10 Mar 2026 10:00:00 +0000 (UTC)"), ("Message-ID", "<abc@def>"),
         ("In-Reply-To", "<zzz@def>")]),
    msg([("From", "nodate@example.org"), ("Subject", "=?utf-8?b?w6l0w6k=?= summer"),
         ("Date", "=?utf-8?q?Mon=2C_02_Mar_2026?= 10:00 +0000")]),
    msg([("Subject", "no from"), ("Reply-To", "r@x.test"), ("Sender", "s@x.test"),
         ("X-Other", "find me")]),
    # fields over MI_FIELDS_MAX (64 KiB): no cached record, searched in the file
    msg([("From", "big@example.org"), ("Subject", "word " * 14000 + "tail"),
         ("Date", "Wed, 11 Mar 2026 10:00:00 +0000")]),
    msg([("From", "empty-subject@example.org"), ("Subject", ""), ("To", "")]),
    msg([("From", "=?utf-8?q?=E6=97=A5=E6=9C=AC?= <jp@example.org>"),
         ("Subject", "=?utf-8?b?5pel5pys6Kqe?= mixed =?us-ascii?q?ascii_word?="),
         ("Date", "Thu, 12 Mar 2026 23:59:59 -0500")]),
]

# (field, search string as UTF-8, expected 1-based sequence numbers)
QUERIES = [
    ("From", "jürgen", [1]), ("From", "JURGEN@EXAMPLE", [1]), ("From", "jurgen@", [1]),
    ("From", "example.org", [1, 2, 3, 5, 6, 7]), ("To", "b@y", [1]), ("To", "second", [1]),
    ("To", "", [1, 6]), ("Subject", "café au", [1]), ("Subject", "spaced   out", [2]),
    ("Subject", "", [1, 2, 3, 4, 5, 6, 7]), ("Subject", "été", [3]), ("Subject", "tail", [5]),
    ("Subject", "日本語 mixed", [7]), ("Subject", "ascii word", [7]), ("From", "日本", [7]),
    ("Cc", "quoted, name", [2]), ("Bcc", "HIDDEN", [2]), ("Message-ID", "abc@", [2]),
    ("In-Reply-To", "zzz", [2]), ("Reply-To", "r@", [4]), ("Sender", "s@x", [4]),
    ("Date", "(utc)", [2]), ("Date", "mar 2026", [1, 2, 3, 5, 7]), ("Date", "2=2C", []),
    ("From", "nobody-matches", []),
]


@pytest.fixture(scope="module")
def box():
    inst = ImapInstance()
    try:
        b = Mailbox(inst)
        b.append(*MESSAGES)
        yield b
    finally:
        inst.close()


def connect(b):
    c = imaplib.IMAP4("127.0.0.1", b.imap_port, timeout=60)
    c.starttls(ssl_context=tls_ctx(b.cert()))
    assert c.login(b.user, b.pw)[0] == "OK"
    assert c.select("INBOX")[0] == "OK"
    return c


def search(c, *crit):
    """Sequence numbers matching crit; strings go as UTF-8 literals."""
    args, lit = [], None
    for a in crit:
        if a == "":
            args.append('""')
        elif not re.fullmatch(r"[A-Za-z0-9@.=-]+", a):
            assert lit is None
            lit = a.encode()
            args.append(None)
        else:
            args.append(a)
    if lit is not None:
        # imaplib sends one literal, last: put the string argument last
        assert args[-1] is None
        c.literal = lit
        typ, data = c.search("UTF-8", *args[:-1])
    else:
        typ, data = c.search("UTF-8", *args)
    assert typ == "OK", (crit, data)
    return [int(x) for x in data[0].split()]


def check_all(c):
    for field, s, want in QUERIES:
        cached = search(c, "HEADER", field, s)
        parsed = search(c, "HEADER", "X-Dup-" + field, s)
        assert cached == parsed == want, (field, s, cached, parsed)
        if field in ("From", "To", "Cc", "Bcc", "Subject"):
            assert search(c, field.upper(), s) == want, (field, s)
    # SENT* from the cached Date (message 3's Date has encoded words: read raw)
    assert search(c, "SENTON", "2-Mar-2026") == [1]
    assert search(c, "SENTBEFORE", "11-Mar-2026") == [1, 2]
    assert search(c, "SENTSINCE", "11-Mar-2026") == [5, 7]
    # combined with keys that need the file and with NOT / OR
    assert search(c, "FROM", "example.org", "BODY", "body") == [1, 2, 3, 5, 6, 7]
    assert search(c, "NOT", "FROM", "example") == [4]
    assert search(c, "OR", "FROM", "lower", "SUBJECT", "order") == [1, 2]
    typ, data = c.sort("(SUBJECT)", "UTF-8", "FROM", "example.org")
    assert typ == "OK" and sorted(int(x) for x in data[0].split()) == [1, 2, 3, 5, 6, 7]


def test_cached_and_parsed_header_search_agree(box):
    c = connect(box)
    try:
        check_all(c)
    finally:
        c.logout()


def test_same_after_index_rebuild(box):
    r = box.ctl("mailbox", "index", box.user, "drop", check=False)
    assert r.returncode == 0, r.stderr
    c = connect(box)
    try:
        check_all(c)
    finally:
        c.logout()
