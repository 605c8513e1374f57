"""tern-imapd SEARCH sets, SORT keys and THREAD=REFERENCES, each behaviour that
Dovecot's imaptest checks (groups search-sets, sort-arrival, sort-subject,
thread) also named on its own here, so a regression says what broke.

Raw sockets against a real instance (one for the module, a fresh user per
test, see imap_harness.py); messages are APPENDed with the INTERNALDATE given."""
import re
import time

import pytest

from imap_harness import ImapInstance, Mailbox, RawImap


@pytest.fixture(scope="module")
def imap_instance():
    inst = ImapInstance()
    yield inst
    inst.close()


@pytest.fixture
def server(imap_instance):
    return Mailbox(imap_instance)


def append(r, headers, date=None, body="body"):
    """APPEND one message (headers: list of "Name: value") with its INTERNALDATE."""
    date = date or "22-Feb-2008 17:06:23 +0000"
    data = ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()
    r.send(b'%s APPEND INBOX "%s" {%d}\r\n' % (b"ap", date.encode(), len(data)))
    assert r.line().startswith(b"+")
    r.send(data + b"\r\n")
    assert r.until_tag(b"ap")[-1].startswith(b"ap OK")


def session(server, messages):
    """A session with messages [(headers, internaldate)] appended and INBOX selected."""
    r = RawImap(server)
    for headers, date in messages:
        append(r, headers, date)
    r.ok(b"SELECT INBOX")
    return r


def numbers(lines, kind):
    """The numbers of the one "* SORT"/"* SEARCH" line."""
    got = [l for l in lines if l.startswith(b"* " + kind)]
    assert len(got) == 1, lines
    return [int(x) for x in got[0].split()[2:]]


def test_uid_search_over_the_whole_uid_range(server):
    r = session(server, [(["Subject: %d" % i], "22-Feb-2008 17:06:23 +0000") for i in range(6)])
    uids = numbers(r.ok(b"UID SEARCH ALL"), b"SEARCH")
    uidnext = int(re.search(rb"UIDNEXT (\d+)", b"".join(r.ok(b"STATUS INBOX (UIDNEXT)"))).group(1))
    r.ok(b"STORE 2 +FLAGS (\\Deleted)")
    r.ok(b"EXPUNGE")
    left = uids[:1] + uids[2:]
    # 4294967295 is the largest UID, not "*"
    assert numbers(r.ok(b"UID SEARCH UID 1:4294967295"), b"SEARCH") == left
    assert numbers(r.ok(b"UID SEARCH UID %d:4294967295" % uidnext), b"SEARCH") == []
    assert numbers(r.ok(b"UID SEARCH UID 4294967295"), b"SEARCH") == []
    # while "*" is the last UID, even in a range beyond it
    assert numbers(r.ok(b"SEARCH UID %d:*" % uidnext), b"SEARCH") == [5]
    assert numbers(r.ok(b"SEARCH UID 4294967295:*"), b"SEARCH") == [5]
    assert r.cmd(b"UID SEARCH UID 1:4294967296")[-1].startswith(r.tag + b" BAD")
    assert r.cmd(b"UID FETCH 4294967296 (FLAGS)")[-1].startswith(r.tag + b" BAD")
    assert r.ok(b"UID FETCH 1:4294967295 (FLAGS)")[0].startswith(b"* 1 FETCH")
    r.close()


def test_sort_arrival_is_internaldate_then_sequence(server):
    dates = ["22-Feb-2008 00:00:00 +0000", "22-Feb-2008 02:00:00 +0000",
             "22-Feb-2008 01:00:00 +0000", "22-Feb-2008 02:00:00 +0000",
             "22-Feb-2008 03:00:00 +0200"]   # 01:00 UTC: ties with 3, after it
    r = session(server, [(["Subject: x"], d) for d in dates])
    assert numbers(r.ok(b"SORT (ARRIVAL) US-ASCII ALL"), b"SORT") == [1, 3, 5, 2, 4]
    # REVERSE turns the key around; equal keys stay in sequence order
    assert numbers(r.ok(b"SORT (REVERSE ARRIVAL) US-ASCII ALL"), b"SORT") == [2, 4, 3, 5, 1]
    r.close()


SUBJECTS = [
    "a",                                          # 1
    "C",                                          # 2
    "b",                                          # 3
    "_",                                          # 4: after letters (compared in upper case)
    "[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)",    # 5: b
    "b (a)",                                      # 6
    "Re: [FWD: c]",                               # 7: c
    "[xyz]",                                      # 8: a lone blob stays
    None,                                         # 9: no Subject
    "=?iso-8859-1?q?_?=",                         # 10: empty once decoded
    "Re: =?utf-8?q?b?=",                          # 11: b
    "=?iso-8859-1?q?RE:_C?=",                     # 12: c
    "=?us-ascii?b?UmU6IGM=?=",                    # 13: "Re: c"
    "Ad: Re: Ad: Re: Ad: x",                      # 14: not a reply prefix
    "re: [fwd: [fwd: re: [fwd: babylon]]]",       # 15: babylon
]


def test_sort_subject_uses_the_rfc5256_base_subject(server):
    r = session(server, [(["Subject: " + s] if s else ["From: a@b.c"], "22-Feb-2008 17:06:23 +0000")
                         for s in SUBJECTS])
    expect = [9, 10, 1, 14, 3, 5, 11, 6, 15, 2, 7, 12, 13, 8, 4]
    assert numbers(r.ok(b"SORT (SUBJECT) US-ASCII ALL"), b"SORT") == expect
    # ties (same base subject) stay in sequence order under REVERSE too
    assert numbers(r.ok(b"SORT (REVERSE SUBJECT) US-ASCII ALL"), b"SORT") == \
        [4, 8, 2, 7, 12, 13, 15, 6, 3, 5, 11, 14, 1, 9, 10]
    r.close()


def thread(r, *args):
    lines = r.ok(b"THREAD REFERENCES US-ASCII " + (b" ".join(args) or b"ALL"))
    got = [l for l in lines if l.startswith(b"* THREAD")]
    assert len(got) == 1, lines
    return got[0][len(b"* THREAD "):].decode()


def test_thread_references_breaks_a_guessed_parent(server):
    """RFC 5256 3 step 1B: a message's own References replace the parent an
    earlier message's References gave it, and a link that would make a loop is
    not made: <c@b> ends as a root although <b@b> listed it under <a@b>."""
    r = session(server, [
        (["Message-ID: <a@b>"], "22-Feb-2008 17:06:23 +0000"),
        (["Message-Id: <b@b>", "References: <a@b> <c@b>"], "22-Feb-2008 15:06:23 +0000"),
        (["Message-Id: <c@b>", "References: <b@b>"], "22-Feb-2008 16:06:25 +0000"),
    ])
    assert thread(r) == "(3 2)(1)"
    r.ok(b"STORE 1 +FLAGS (\\Deleted)")
    r.ok(b"EXPUNGE")
    assert thread(r) == "(2 1)"
    r.close()


def test_thread_references_message_ids_and_subjects(server):
    d = "Date: Mon, 02 Mar 2026 10:%02d:00 +0000"
    r = session(server, [
        # 1: the id with comments and spaces inside the brackets
        (["Message-ID: (c) < (c) root (c) @ (c) x (c) > (c)", "Subject: topic", d % 5], None),
        # 2: References without a valid id: In-Reply-To names the parent
        (["Message-ID: <r1@x>", "References: <no-at-sign>", "In-Reply-To: <root@x>",
          "Subject: Re: a changed subject", d % 7], None),
        # 3: a reply to 1, sent before 2: first among the siblings
        (["Message-ID: <r2@x>", "References: <root@x>", "Subject: Re: topic", d % 6], None),
        # 4, 5: two messages about "other" without ids: joined under a dummy
        (["Subject: other", d % 9], None),
        (["Subject: Fwd: other", d % 8], None),
        # 6: a reply to "other" with the original missing: the subject joins it
        (["Message-ID: <o3@x>", "References: <gone@x>", "Subject: Re: other", d % 10], None),
    ])
    # 1 has two children sorted by date; "other": 4 is not a reply, 5 and 6
    # are, so they go under 4; the "other" thread sorts by 4's date (10:09),
    # after the "topic" thread (10:05)
    assert thread(r) == "(1 (3)(2))(4 (5)(6))"
    r.close()


def test_thread_references_two_originals_share_a_dummy(server):
    d = "Date: Mon, 02 Mar 2026 10:%02d:00 +0000"
    r = session(server, [
        (["Message-ID: <p@x>", "Subject: news", d % 3], None),
        (["Message-ID: <q@x>", "Subject: news", d % 1], None),
        (["Message-ID: <s@x>", "Subject: zzz", d % 2], None),
    ])
    # neither "news" is a reply: both go under a new dummy, ordered by date;
    # the dummy sorts by its first child (10:01), before "zzz" (10:02)
    assert thread(r) == "((2)(1))(3)"
    r.close()


def test_sort_subject_unicode_casemap(server):
    """I18NLEVEL=1 (RFC 5255 4): SORT compares i;unicode-casemap keys (RFC
    5051: titlecase, then NFKD), so "éclair" and "Éclair" are equal and sort
    as "E" + a combining accent, after "Ezra" and before "Zebra"."""
    r = session(server, [
        (["Subject: Zebra"], None),
        (["Subject: =?utf-8?q?=C3=A9clair?="], None),
        (["Subject: Ebony"], None),
        (["Subject: =?utf-8?q?=C3=89clair?="], None),
        (["Subject: Ezra"], None),
    ])
    assert numbers(r.ok(b"SORT (SUBJECT) UTF-8 ALL"), b"SORT") == [3, 5, 2, 4, 1]
    assert b"I18NLEVEL=1" in b" ".join(r.ok(b"CAPABILITY")).split()
    r.close()


def test_thread_refs_no_subject_merge_newest_thread_last(server):
    """THREAD=REFS (Dovecot's): the links of REFERENCES, but threads are never
    joined by subject, and they are ordered by their newest message."""
    d = "Date: Mon, 02 Mar 2026 10:%02d:00 +0000"
    r = session(server, [
        (["Message-ID: <a@x>", "Subject: alpha", d % 1], None),
        (["Message-ID: <b@x>", "Subject: beta", d % 2], None),
        (["Message-ID: <c@x>", "References: <a@x>", "Subject: Re: alpha", d % 5], None),
        # a reply that lost its References: REFERENCES puts it under 2 by subject
        (["Message-ID: <d@x>", "Subject: Re: beta", d % 3], None),
    ])
    assert thread(r) == "(1 3)(2 4)"
    lines = r.ok(b"THREAD REFS US-ASCII ALL")
    assert [l for l in lines if l.startswith(b"* THREAD")] == [b"* THREAD (2)(4)(1 3)"]
    caps = b" ".join(r.ok(b"CAPABILITY")).split()
    assert b"THREAD=REFS" in caps
    r.close()


def test_thread_references_long_chain(server):
    """A reply chain as long as the folder: one flat list, no recursion."""
    n = 300
    r = RawImap(server)
    for i in range(n):
        hdr = ["Message-ID: <m%d@x>" % i, "Subject: chain"]
        if i:
            hdr.append("References: <m%d@x>" % (i - 1))
        append(r, hdr)
    r.ok(b"SELECT INBOX")
    assert thread(r) == "(" + " ".join(str(i + 1) for i in range(n)) + ")"
    r.close()


ADDRESS_MESSAGES = [
    ["From: user-from@domain.org", "To: user-to@domain.org"],                           # 1
    ["From: RealFrom <user-from@domain.org>", "To: RealTo <user-to@domain.org>"],      # 2
    ["From: <user-from (comment)@ (comment) domain.org>", "To: <user-to@domain.org>"], # 3
    ["From: user-from@domain.org (RealFrom)", "Cc: user-cc@domain.org (RealCc)"],      # 4
    ["From: user-from1@domain.org, user-from2@domain.org"],                            # 5
    ["From: RealFrom <user-from@domain.org>",
     "To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n"
     "  groupname2: groupuser3@domain.org;"],                                           # 6
    ["From: =?utf-8?q?J=C3=BCrgen=2C_M?= <j@x.test>", "To: groupname:;"],              # 7
]


def test_search_from_to_match_the_addresses_not_the_syntax(server):
    """FROM/TO/CC/BCC match the address list written back as text (comments
    inside an address gone, a trailing comment as the display name, groups)."""
    r = session(server, [(h, None) for h in ADDRESS_MESSAGES])
    # the same answers from the index's cached fields and from the files: a
    # To: header over the cache's 64 kB limit makes message 8 read its file
    big = ", ".join("filler%d@pad.example" % i for i in range(4000))
    append(r, ["From: <user-from (c)@ domain.org>", "To: " + big])
    r.ok(b"NOOP")

    def search(*keys):
        return numbers(r.ok(b"SEARCH " + b" ".join(keys)), b"SEARCH")

    assert search(b"FROM", b"user-from@domain.org") == [1, 2, 3, 4, 6, 8]
    assert search(b"FROM", b"realfrom") == [2, 4, 6]
    assert search(b"CC", b"realcc") == [4]
    assert search(b"FROM", b"user-from2") == [5]
    assert search(b"TO", b"groupname2") == [6]
    assert search(b"TO", b"groupuser3") == [6]
    assert search(b"TO", b"groupname") == [6, 7]
    assert search(b"TO", b"filler400@pad") == [8]
    # decoded display names; HEADER still matches the field as written
    name = "jürgen, m".encode()
    assert search(b"CHARSET", b"UTF-8", b"FROM", b"{%d}\r\n%s" % (len(name), name)) == [7]
    assert search(b"HEADER", b"FROM", b'"(comment)"') == [3]
    assert search(b"FROM", b'"(comment)"') == []
    r.close()


def test_sort_by_address_keys(server):
    r = session(server, [(h, None) for h in [
        ["From: user2@domain2.org", "To: foo bar <user2@domain2.org>",
         "Cc: user2@domain2.org (foo bar)"],
        ["From: user2@domain1.org", "To: Zed <user2@domain1.org>", "Cc: user2: blah@domain1.org;"],
        ["From: user1@domain1.org", "To: =?iso-8859-1?q?foo_aar?= <a@b.c>", "Cc: user1@domain1.org"],
        ["From: d", "To: empty:;"],
    ]])

    def sort(crit):
        return numbers(r.ok(b"SORT (" + crit + b") US-ASCII ALL"), b"SORT")

    # the first address's mailbox (a group's name), ties in sequence order
    assert sort(b"FROM") == [4, 3, 1, 2]
    assert sort(b"REVERSE CC") == [1, 2, 3, 4]   # 4 has no Cc: the empty key
    assert sort(b"CC") == [4, 3, 1, 2]
    # RFC 5957: the display name, else the address (a group's name)
    assert sort(b"DISPLAYTO") == [4, 3, 1, 2]    # EMPTY, FOO AAR, FOO BAR, ZED
    assert sort(b"DISPLAYFROM") == [4, 3, 2, 1]  # D, USER1@.., USER2@DOMAIN1.., USER2@DOMAIN2..
    r.close()


def esearch(lines, tag):
    """The data of the one ESEARCH response to tag, after its (TAG ...)."""
    got = [l for l in lines if l.startswith(b'* ESEARCH (TAG "%s")' % tag)]
    assert len(got) == 1, lines
    return got[0][len(b'* ESEARCH (TAG "%s")' % tag):].decode().strip()


def test_esort_return_options(server):
    sizes = [30, 10, 50, 20, 40]
    r = session(server, [(["Subject: s", "X-Pad: " + "x" * n], None) for n in sizes])
    assert b" ESORT" in b"".join(r.ok(b"CAPABILITY"))
    # RFC 5267 3.1: MIN/MAX are the first/last in sort order, ALL keeps the order
    assert esearch(r.ok(b"SORT RETURN (MIN MAX COUNT) (SIZE) US-ASCII ALL"), r.tag) == \
        "MIN 2 MAX 3 COUNT 5"
    assert esearch(r.ok(b"SORT RETURN (ALL) (SIZE) US-ASCII ALL"), r.tag) == "ALL 2,4,1,5,3"
    assert esearch(r.ok(b"SORT RETURN () (REVERSE SIZE) US-ASCII 1:3"), r.tag) == "ALL 3,1:2"
    lines = r.ok(b"UID SORT RETURN (COUNT) (SIZE) US-ASCII NOT ALL")
    assert esearch(lines, r.tag) == "UID COUNT 0"
    # SAVE keeps the sorted messages as "$"
    assert r.ok(b"SORT RETURN (SAVE) (SIZE) US-ASCII 4:5") == []
    assert numbers(r.ok(b"SEARCH $"), b"SEARCH") == [4, 5]
    # without RETURN: the plain SORT response
    assert numbers(r.ok(b"SORT (SIZE) US-ASCII ALL"), b"SORT") == [2, 4, 1, 5, 3]
    for bad in (b"SORT RETURN (NOSUCH) (SIZE) US-ASCII ALL", b"SORT RETURN (MIN MIN) (SIZE) US-ASCII ALL",
                b"SORT RETURN MIN (SIZE) US-ASCII ALL"):
        assert r.cmd(bad)[-1].startswith(r.tag + b" BAD"), bad
    r.close()


def test_partial_results(server):
    r = session(server, [(["Subject: s%d" % i, "X-Pad: " + "x" * (10 * (6 - i))], None)
                         for i in range(1, 6)])
    ok = lambda cmd: esearch(r.ok(cmd), r.tag)
    assert ok(b"SEARCH RETURN (PARTIAL 2:4) ALL") == "PARTIAL (2:4 2:4)"
    assert ok(b"SEARCH RETURN (PARTIAL 4:2) ALL") == "PARTIAL (2:4 2:4)"
    assert ok(b"SEARCH RETURN (PARTIAL 1:9) 1:2,4:5") == "PARTIAL (1:9 1:2,4:5)"
    assert ok(b"SEARCH RETURN (PARTIAL 2:3) 1:2,4:5") == "PARTIAL (2:3 2,4)"
    assert ok(b"SEARCH RETURN (PARTIAL 6:6 COUNT) ALL") == "PARTIAL (6:6 NIL) COUNT 5"
    assert ok(b"SEARCH RETURN (PARTIAL 4294967295:4294967295) ALL") == \
        "PARTIAL (4294967295:4294967295 NIL)"
    # positions in sort order for SORT
    assert ok(b"SORT RETURN (PARTIAL 1:2) (SIZE) US-ASCII ALL") == "PARTIAL (1:2 5,4)"
    uids = numbers(r.ok(b"UID SEARCH ALL"), b"SEARCH")
    assert ok(b"UID SEARCH RETURN (PARTIAL 2:2) ALL") == "UID PARTIAL (2:2 %d)" % uids[1]
    for bad in (b"1", b"1:*", b"*:1", b"0:3", b"1:4294967296", b"-1:2", b"1:2 PARTIAL 3:4"):
        lines = r.cmd(b"SEARCH RETURN (PARTIAL " + bad + b") ALL")
        assert lines[-1].startswith(r.tag + b" BAD"), (bad, lines)
    # PARTIAL with ALL is contradictory
    assert r.cmd(b"SEARCH RETURN (ALL PARTIAL 1:2) ALL")[-1].startswith(r.tag + b" BAD")
    r.close()


def test_within_older_younger(server):
    r = RawImap(server)
    append(r, ["Subject: old"], "22-Feb-2008 17:06:23 +0000")
    append(r, ["Subject: new"], time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(time.time() - 60)))
    r.ok(b"SELECT INBOX")
    assert b" WITHIN" in b"".join(r.ok(b"CAPABILITY"))
    assert numbers(r.ok(b"SEARCH OLDER 3600"), b"SEARCH") == [1]
    assert numbers(r.ok(b"SEARCH YOUNGER 3600"), b"SEARCH") == [2]
    assert numbers(r.ok(b"SEARCH YOUNGER 10"), b"SEARCH") == []
    assert numbers(r.ok(b"SEARCH OLDER 10"), b"SEARCH") == [1, 2]
    assert numbers(r.ok(b"SEARCH NOT YOUNGER 3600 SUBJECT old"), b"SEARCH") == [1]
    for bad in (b"OLDER 0", b"OLDER", b"YOUNGER -5", b"YOUNGER 4294967296"):
        assert r.cmd(b"SEARCH " + bad)[-1].startswith(r.tag + b" BAD"), bad
    r.close()


def test_search_folds_case_in_unicode(server):
    """SEARCH matches strings without regard to case in all of Unicode
    (full case folding and NFKD, RFC 5051's i;unicode-casemap as Dovecot
    applies it), not only in ASCII."""
    r = RawImap(server)
    append(r, ["From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.test>", "Subject: x"])
    append(r, ["From: a@example.test", "Subject: =?UTF-8?Q?Stra=C3=9Fe?="])
    append(r, ["From: b@example.test", "Subject: y", "Content-Type: text/plain; charset=utf-8"],
           body="\u00c9t\u00e9 \u2160")   # "Été", ROMAN NUMERAL ONE
    r.ok(b"SELECT INBOX")

    def search(key, s):
        data = s.encode()
        return numbers(r.ok(b"SEARCH CHARSET UTF-8 %s {%d+}\r\n%s" % (key, len(data), data)),
                       b"SEARCH")
    assert search(b"FROM", "J\u00dcRGEN") == [1]
    assert search(b"FROM", "j\u00fcrgen") == [1]
    assert search(b"FROM", "JURGEN") == []        # a different letter, not a case
    assert search(b"SUBJECT", "STRASSE") == [2]   # ß folds to ss
    assert search(b"SUBJECT", "STRA\u1e9eE") == [2]   # capital sharp s
    assert search(b"BODY", "\u00c9T\u00c9") == [3]
    assert search(b"TEXT", "\u00e9t\u00e9") == [3]
    assert search(b"BODY", "i") == [3]            # compatibility form: Ⅰ is I
    # ASCII keys keep matching as before
    assert numbers(r.ok(b"SEARCH FROM EXAMPLE.TEST"), b"SEARCH") == [1, 2, 3]
    r.close()
