"""tern-imapd on a whole instance (mailctl init/start, the real authd):
messages streamed through APPEND and FETCH without being held in memory,
keywords kept in Maildir file names as Dovecot keeps them, and changes by
other Maildir tools seen right after this session's own changes."""
import imaplib
import os
import re
import ssl
import time

import pytest

from conftest import IS_ROOT

ALICE, ALICE_PW = "alice@example.test", "Alice-pw-1234"


def connect(inst, compress=False):
    c = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=120)
    ctx = ssl.create_default_context(cafile=inst.cert())
    ctx.check_hostname = False
    c.starttls(ssl_context=ctx)
    assert c.login(ALICE, ALICE_PW)[0] == "OK"
    return c


@pytest.fixture
def inst(instance):
    instance.add_user(ALICE, ALICE_PW)
    return instance


def cur_names(inst, folder=""):
    d = os.path.join(inst.maildir(ALICE), folder, "cur")
    return sorted(os.listdir(d))


def flags_of(data):
    """{uid: set of flags} from FETCH (UID FLAGS) responses, without \\Recent
    (which says whether this session was the first to see the message, not
    what is stored: APPENDed messages are \\Recent to the first SELECT)."""
    out = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        m = re.search(rb"UID (\d+)", line)
        f = re.search(rb"FLAGS \(([^)]*)\)", line)
        if m and f:
            out[int(m.group(1))] = set(f.group(1).decode().split()) - {"\\Recent"}
    return out


MSG = (b"From: a@example.org\r\nTo: alice@example.test\r\nSubject: kw\r\n\r\nbody\r\n")


def test_keywords_in_file_names_survive_index_rebuild(inst):
    """Keywords become Dovecot's lowercase letters after the flags, with the
    folder's dovecot-keywords naming them; a rebuilt index recovers them."""
    c = connect(inst)
    assert c.append("INBOX", "(\\Seen $Work Later)", None, MSG)[0] == "OK"
    assert c.append("INBOX", None, None, MSG)[0] == "OK"
    c.select("INBOX")
    assert c.uid("STORE", "2", "+FLAGS", "(Urgent $work)")[0] == "OK"
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS)")
    before = flags_of(data)
    uv_before = c.response("UIDVALIDITY")
    c.logout()
    names = cur_names(inst)
    assert sorted(n.split(":2,")[1] for n in names) == ["Sab", "ac"], names
    with open(os.path.join(inst.maildir(ALICE), "dovecot-keywords")) as f:
        assert f.read() == "0 $Work\n1 Later\n2 Urgent\n"

    r = inst.ctl("mailbox", "index", ALICE, "rebuild")
    assert "INBOX: 2 messages" in r.stdout, r.stdout
    c = connect(inst)
    typ, data = c.select("INBOX")
    assert c.response("UIDVALIDITY") != uv_before	# really rebuilt
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS)")
    after = flags_of(data)
    # keywords ignore case (RFC 3501): "$work" is the folder's "$Work"
    assert before == {1: {"\\Seen", "$Work", "Later"}, 2: {"$Work", "Urgent"}}, before
    assert after == before
    c.logout()


def uids_of(c):
    typ, data = c.uid("SEARCH", "ALL")
    assert typ == "OK"
    return [int(x) for x in data[0].split()]


def test_outside_change_right_after_own_change_is_seen(inst):
    """The index is trusted without reading cur/ after this session's own
    changes; a change another Maildir tool makes right after one (a rename,
    an unlink) must still reach the client at the next command."""
    c = connect(inst)
    for _ in range(3):
        assert c.append("INBOX", None, None, MSG)[0] == "OK"
    c.select("INBOX")
    cur = os.path.join(inst.maildir(ALICE), "cur")
    for round_ in range(5):
        before = set(cur_names(inst))
        assert c.append("INBOX", None, None, MSG)[0] == "OK"
        (fresh,) = set(cur_names(inst)) - before
        c.noop()
        uids = uids_of(c)
        assert c.uid("STORE", str(uids[0]), "+FLAGS", "(\\Flagged)")[0] == "OK"
        # at once, another tool marks the newest message answered ...
        os.rename(os.path.join(cur, fresh), os.path.join(cur, fresh + "R"))
        c.noop()
        got = flags_of(c.uid("FETCH", str(uids[-1]), "(UID FLAGS)")[1])
        assert got[uids[-1]] == {"\\Answered"}, (round_, got)
        # ... and, right after our next change, deletes the flagged one
        assert c.uid("STORE", str(uids[1]), "+FLAGS", "(\\Seen)")[0] == "OK"
        (flagged,) = [n for n in cur_names(inst) if "F" in n.split(":2,")[1]]
        os.unlink(os.path.join(cur, flagged))
        c.noop()
        assert uids_of(c) == uids[1:], round_
    c.logout()


# ---- streaming: APPEND and FETCH of a message near the size limit ----

BIG_ATTACHMENT = 22 * 1024 * 1024	# decoded; base64 makes the message ~30 MB


def big_message():
    """A ~30 MB multipart message (CRLF): a text part and a base64 attachment."""
    import base64
    import random
    rng = random.Random(7)
    raw = rng.randbytes(BIG_ATTACHMENT)
    b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    text = b"".join(b"text line %d of the first part\r\n" % i for i in range(20000))
    msg = (b"From: big@example.org\r\nTo: alice@example.test\r\nSubject: big one\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BIG\"\r\n\r\n"
           b"--BIG\r\nContent-Type: text/plain\r\n\r\n" + text +
           b"--BIG\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--BIG--\r\n")
    return msg, raw, text


def ppid(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def session_pid(inst):
    """The one session process the mail role forked for our login. Only
    children running the role's own program count: in sanitizer builds the
    role has also started llvm-symbolizer (common/sandbox.c)."""
    m = re.search(r"^imapd-mail (\d+)", inst.ctl("status").stdout, re.M)
    mail = int(m.group(1))
    exe = os.readlink(f"/proc/{mail}/exe")
    kids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if ppid(p) == mail and os.readlink(f"/proc/{p}/exe") == exe:
                    kids.append(int(p))
            except (OSError, IndexError):
                pass
    assert len(kids) == 1, kids
    return kids[0]


def vm_kb(pid, field="VmHWM"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


def sanitized():
    """Built with ASan (its shadow memory and quarantine make RSS meaningless)."""
    from conftest import TERN_BIN
    with open(os.path.join(TERN_BIN, "tern-imapd"), "rb") as f:
        return b"__asan_init" in f.read()


def literal_of(data):
    """The bytes of the first literal in an imaplib FETCH answer."""
    for item in data:
        if isinstance(item, tuple):
            return item[1]
    raise AssertionError(data)


def test_append_and_fetch_near_the_limit_stream(inst):
    """A 30 MB APPEND goes to the folder's tmp/ as it arrives and FETCH
    BODY[], BODY[TEXT], sections, partials and BINARY come from the file:
    the session process's peak RSS stays far below the message size, and
    every byte is what was sent."""
    msg, raw, text = big_message()
    c = connect(inst)
    pid = session_pid(inst)
    base = vm_kb(pid)
    typ, data = c.append("INBOX", None, None, msg)
    assert typ == "OK", data
    after_append = vm_kb(pid)
    c.select("INBOX")
    typ, data = c.uid("FETCH", "1", "(RFC822.SIZE BODY.PEEK[])")
    assert b"RFC822.SIZE %d" % len(msg) in data[0][0]
    assert literal_of(data) == msg
    del data
    typ, data = c.uid("FETCH", "1", "(BODY.PEEK[TEXT])")
    body = literal_of(data)
    assert msg.endswith(body) and len(body) == len(msg) - msg.index(b"\r\n\r\n") - 4
    del data, body
    typ, data = c.uid("FETCH", "1", "(BODY.PEEK[1])")
    assert literal_of(data) == text[:-2]	# the CRLF before the delimiter is not the part's
    typ, data = c.uid("FETCH", "1", "(BODY.PEEK[2]<1000.5000000>)")
    part2 = msg[msg.index(b"base64\r\n\r\n") + 10:-len(b"\r\n--BIG--\r\n")]
    assert literal_of(data) == part2[1000:5001000]
    typ, data = c.uid("FETCH", "1", "(BINARY.SIZE[2] BINARY.PEEK[2])")
    assert b"BINARY.SIZE[2] %d" % len(raw) in data[0][0]
    assert literal_of(data) == raw
    del data
    typ, data = c.uid("FETCH", "1", "(BODYSTRUCTURE)")
    assert b'"APPLICATION" "OCTET-STREAM"' in data[0].upper()
    peak = vm_kb(pid)
    c.logout()
    size_kb = len(msg) // 1024
    print(f"message {size_kb} kB; session VmHWM {base} kB at login, "
          f"{after_append} kB after APPEND, {peak} kB after the FETCHes")
    if sanitized():
        return	# the bytes were checked; memory is ASan's
    assert after_append - base < size_kb // 4, (base, after_append)
    assert peak - base < size_kb // 4, (base, peak)


class CompressedTls:
    """A raw client: STARTTLS, LOGIN, COMPRESS=DEFLATE, then commands."""

    def __init__(self, inst, compress=True):
        import socket
        import zlib
        s = socket.create_connection(("127.0.0.1", inst.port("imap")), timeout=60)
        self.raw = s
        self.buf = b""
        self.line()	# greeting
        s.sendall(b"a0 STARTTLS\r\n")
        assert self.line().startswith(b"a0 OK")
        ctx = ssl.create_default_context(cafile=inst.cert())
        ctx.check_hostname = False
        self.s = ctx.wrap_socket(s)
        self.s.sendall(b'a1 LOGIN "%s" "%s"\r\n' % (ALICE.encode(), ALICE_PW.encode()))
        while not self.line().startswith(b"a1 "):
            pass
        if not compress:
            return
        self.s.sendall(b"a2 COMPRESS DEFLATE\r\n")
        assert self.line() == b"a2 OK DEFLATE active"
        self.comp = zlib.compressobj(wbits=-15)
        self.decomp = zlib.decompressobj(wbits=-15)
        self.zipped = True

    def recv(self, n=65536):
        d = (self.s if hasattr(self, "s") else self.raw).recv(n)
        assert d, "connection closed"
        return self.decomp.decompress(d) if getattr(self, "zipped", False) else d

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.recv()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def send(self, data):
        import zlib
        if not getattr(self, "zipped", False):
            self.s.sendall(data)
            return
        self.s.sendall(self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH))

    def literal(self, n, pause=None):
        """n octets of a literal; pause() once after the first read."""
        out = [self.buf]
        got = len(self.buf)
        self.buf = b""
        first = True
        while got < n:
            d = self.recv(16384)
            out.append(d)
            got += len(d)
            if first and pause:
                pause()
                first = False
        data = b"".join(out)
        self.buf = data[n:]
        return data[:n]


def test_fetch_streams_through_tls_and_compress_to_a_slow_reader(inst):
    """Over STARTTLS and COMPRESS=DEFLATE, a 30 MB APPEND (LITERAL+) streams
    into the folder, and a client that stops reading in the middle of the
    30 MB FETCH literal holds the session back (back-pressure): the session's
    memory stays bounded throughout, and the bytes arrive whole."""
    msg, _, _ = big_message()
    z = CompressedTls(inst)
    pid = session_pid(inst)
    login_rss = vm_kb(pid, "VmRSS")
    z.send(b"a3 APPEND INBOX {%d+}\r\n" % len(msg))
    for i in range(0, len(msg), 1 << 20):
        z.send(msg[i:i + (1 << 20)])
    z.send(b"\r\n")
    line = z.line()
    assert line.startswith(b"a3 OK [APPENDUID "), line
    after_append = vm_kb(pid)
    z.send(b"a3 SELECT INBOX\r\n")
    while not z.line().startswith(b"a3 "):
        pass
    base = vm_kb(pid, "VmRSS")
    z.send(b"a4 UID FETCH 1 BODY.PEEK[]\r\n")
    head = z.line()
    m = re.search(rb"\{(\d+)\}$", head)
    assert m and int(m.group(1)) == len(msg), head
    waiting = []

    def pause():
        time.sleep(1.5)	# the session fills what buffers it has, then waits
        waiting.append(vm_kb(pid, "VmRSS"))
    data = z.literal(len(msg), pause)
    assert data == msg
    assert z.line() == b")"
    assert z.line().startswith(b"a4 OK")
    peak = vm_kb(pid)
    z.send(b"a5 LOGOUT\r\n")
    print(f"VmRSS {login_rss} kB after login, VmHWM {after_append} kB after APPEND; "
          f"VmRSS {base} kB before the FETCH, {waiting[0]} kB while the client "
          f"did not read; VmHWM {peak} kB; message {len(msg) // 1024} kB")
    if not sanitized():
        assert after_append - login_rss < len(msg) // 1024 // 4
        assert waiting[0] - base < len(msg) // 1024 // 8
        assert peak - base < len(msg) // 1024 // 4


def test_append_refusals_and_an_abandoned_literal_leave_nothing(inst):
    """A synchronising APPEND to a missing folder is refused before the client
    sends the literal; a non-synchronising one is read, dropped and refused;
    a client that leaves in the middle of a literal leaves no file behind."""
    t = CompressedTls(inst, compress=False)
    t.send(b"a3 APPEND NoSuch {10}\r\n")
    assert t.line().startswith(b"a3 NO [TRYCREATE]")
    t.send(b"a4 APPEND NoSuch {10+}\r\n0123456789\r\na5 NOOP\r\n")
    assert t.line().startswith(b"a4 NO [TRYCREATE]")
    assert t.line().startswith(b"a5 OK")
    tmp = os.path.join(inst.maildir(ALICE), "tmp")
    t.send(b"a6 APPEND INBOX {200000}\r\n")
    assert t.line().startswith(b"+")
    t.send(b"x" * 99999 + b"\r\n")	# half of it, CRLF stored as LF
    for _ in range(100):
        files = os.listdir(tmp)
        if files and os.path.getsize(os.path.join(tmp, files[0])) == 100000:
            break
        time.sleep(0.05)
    assert len(files) == 1 and os.path.getsize(os.path.join(tmp, files[0])) == 100000, files
    t.s.close()
    for _ in range(100):
        if not os.listdir(tmp):
            break
        time.sleep(0.05)
    assert os.listdir(tmp) == []
    assert cur_names(inst) == []
