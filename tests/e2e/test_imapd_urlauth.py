"""URLAUTH end to end on a real instance (RFC 4467: GENURLAUTH, URLFETCH,
RESETKEY, mailbox access keys; RFC 5524: URLFETCH's BINARY and
BODYPARTSTRUCTURE). Raw sockets, so the exact responses are checked."""
import os
import re
import stat

import pytest

from imap_harness import ImapInstance, Mailbox, RawImap

MSG = (b"From: a@example.org\r\nSubject: url\r\nMIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
       b"--b\r\nContent-Type: text/plain\r\n\r\nplain part\r\n"
       b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
       b"AGJpbgBkYXRh\r\n--b--\r\n")


@pytest.fixture(scope="module")
def imap_instance():
    inst = ImapInstance()
    yield inst
    inst.close()


@pytest.fixture
def server(imap_instance):
    return Mailbox(imap_instance)


def lit(data):
    return b"{%d+}\r\n" % len(data) + data


def read_until_tag(c, tag):
    """Everything up to and including the tagged line (literals and all)."""
    while not re.search(rb"(^|\r\n)" + tag + rb" (OK|NO|BAD)[^\r\n]*\r\n", c.buf):
        d = c.s.recv(65536)
        if not d:
            raise EOFError(c.buf)
        c.buf += d
    m = re.search(rb"(^|\r\n)" + tag + rb" (OK|NO|BAD)[^\r\n]*\r\n", c.buf)
    out, c.buf = c.buf[:m.end()], c.buf[m.end():]
    return out


def raw(c, cmd):
    c.n += 1
    c.tag = b"u%d" % c.n
    c.send(c.tag + b" " + cmd + b"\r\n")
    return read_until_tag(c, c.tag)


def base_url(server, uid, rest=b""):
    user = server.user.replace("@", "%40").encode()
    return b"imap://" + user + b"@mail.example.test/INBOX/;UID=%d" % uid + rest


def genurlauth(c, rump):
    out = raw(c, b'GENURLAUTH "' + rump + b'" INTERNAL')
    assert out.endswith(b"OK GENURLAUTH completed\r\n"), out
    # an astring: quoted, as "%" is no atom character
    url = re.match(rb'\* GENURLAUTH "([^"]+)"\r\n', out).group(1)
    assert url.startswith(rump + b":INTERNAL:") and len(url) == len(rump) + 10 + 64
    return url


def fetched(c, url, mods=b""):
    """The octets URLFETCH returns for url (None for NIL)."""
    q = b'"' + url + b'"'
    arg = b"(" + q + mods + b")" if mods else q
    out = raw(c, b"URLFETCH " + arg)
    assert out.endswith(b"OK URLFETCH completed\r\n"), out
    head = b"* URLFETCH " + (q if b"%" in url or b" " in url else url) + b" "
    assert out.startswith(head), out
    rest = out[len(head):]
    if rest.startswith(b"NIL\r\n"):
        return None
    m = re.search(rb"~?\{(\d+)\}\r\n", rest)
    return rest[:m.start()], rest[m.end():m.end() + int(m.group(1))]


def test_genurlauth_urlfetch_and_resetkey(server):
    c = RawImap(server)
    c.ok(b"APPEND INBOX " + lit(MSG))
    whole = genurlauth(c, base_url(server, 1, b";URLAUTH=user+" + server.user.encode()))
    part = genurlauth(c, base_url(server, 1, b"/;SECTION=1;URLAUTH=authuser"))
    partial = genurlauth(c, base_url(server, 1, b"/;SECTION=TEXT/;PARTIAL=2.5;URLAUTH=anonymous"))
    assert fetched(c, whole)[1] == MSG
    assert fetched(c, part)[1] == b"plain part"
    assert fetched(c, partial)[1] == MSG[MSG.index(b"\r\n\r\n") + 4:][2:7]
    # the key lives beside the folder's index, readable by its owner only
    key = os.path.join(server.maildir(), "tern-urlauth.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and os.path.getsize(key) == 32
    # one octet of the token changed, or the access identifier changed: NIL
    bad = whole[:-1] + (b"0" if whole[-1:] != b"0" else b"1")
    assert fetched(c, bad) is None
    other = whole.replace(b"URLAUTH=user+", b"URLAUTH=user+x")
    assert fetched(c, other) is None
    assert raw(c, b"RESETKEY INBOX INTERNAL").endswith(b"OK RESETKEY completed\r\n")
    assert fetched(c, whole) is None and fetched(c, part) is None
    again = genurlauth(c, base_url(server, 1, b";URLAUTH=user+" + server.user.encode()))
    assert again != whole and fetched(c, again)[1] == MSG
    assert raw(c, b"RESETKEY").endswith(b"OK RESETKEY completed\r\n")
    assert fetched(c, again) is None
    c.close()


def test_urlauth_refusals(server, imap_instance):
    other = Mailbox(imap_instance)
    c = RawImap(server)
    c.ok(b"APPEND INBOX " + lit(MSG))
    u = server.user.encode()
    for rump, why in [
        (base_url(server, 1, b";URLAUTH=authuser:INTERNAL:" + b"0" * 64), b"rump"),
        (base_url(server, 1), b"rump"),
        (base_url(server, 9, b";URLAUTH=authuser"), b"message"),
        (base_url(server, 1, b";EXPIRE=2001-01-01T00:00:00Z;URLAUTH=authuser"), b"expired"),
        (b"imap://" + other.user.replace("@", "%40").encode() + b"@h/INBOX/;UID=1;URLAUTH=authuser",
         b"another user"),
        (b"/INBOX/;UID=1;URLAUTH=authuser", b"rump"),
    ]:
        out = raw(c, b'GENURLAUTH "' + rump + b'" INTERNAL')
        assert out.startswith(c.tag + b" NO"), (rump, out)
    assert raw(c, b'GENURLAUTH "' + base_url(server, 1, b";URLAUTH=authuser") +
               b'" HMAC').startswith(c.tag + b" NO")
    assert raw(c, b"GENURLAUTH").startswith(c.tag + b" BAD")
    assert raw(c, b"URLFETCH").startswith(c.tag + b" BAD")
    assert raw(c, b"URLFETCH (x BOGUS)").startswith(c.tag + b" BAD")
    assert raw(c, b"RESETKEY NoSuch").startswith(c.tag + b" NO")
    # submit+ URLs are for the submission server, not for IMAP sessions
    sub = genurlauth(c, base_url(server, 1, b";URLAUTH=submit+" + u))
    assert fetched(c, sub) is None
    # URLs without URLAUTH, or not URLs at all: NIL
    assert fetched(c, b"/INBOX/;UID=1") is None
    assert fetched(c, b"nonsense") is None
    c.close()


def test_urlfetch_binary_and_bodypartstructure(server):
    c = RawImap(server)
    c.ok(b"APPEND INBOX " + lit(MSG))
    att = genurlauth(c, base_url(server, 1, b"/;SECTION=2;URLAUTH=authuser"))
    whole = genurlauth(c, base_url(server, 1, b";URLAUTH=authuser"))
    # BINARY undoes base64; the decoded octets hold NULs: a literal8
    out = raw(c, b'URLFETCH ("' + att + b'" BINARY)')
    assert b" (BINARY ~{9}\r\n\x00bin\x00data)\r\n" in out, out
    out = raw(c, b'URLFETCH ("' + att + b'" BODYPARTSTRUCTURE)')
    assert (b'(BODYPARTSTRUCTURE ("application" "octet-stream" NIL NIL NIL "base64" 12 NIL NIL NIL NIL))'
            in out), out
    # BODY (the default of the extended form) gives the octets as stored
    assert fetched(c, att, b" BODY")[1] == b"AGJpbgBkYXRh"
    assert fetched(c, att, b"")[1] == b"AGJpbgBkYXRh"
    # BINARY of the whole message: every part decoded, its header saying so
    head, data = fetched(c, whole, b" BINARY BODYPARTSTRUCTURE")
    assert data == MSG.replace(b"base64", b"binary").replace(b"AGJpbgBkYXRh", b"\x00bin\x00data")
    assert b'"base64" 9 NIL' in head, head   # the size of the decoded octets
    assert raw(c, b'URLFETCH ("' + att + b'" BODY BINARY)').startswith(c.tag + b" BAD")
    c.close()


def test_catenate_with_an_authorised_url(server):
    c = RawImap(server)
    c.ok(b"APPEND INBOX " + lit(MSG))
    url = genurlauth(c, base_url(server, 1, b"/;SECTION=1;URLAUTH=authuser"))
    lines = c.cmd(b"APPEND INBOX CATENATE (TEXT " + lit(b"Subject: fwd\r\n\r\n") + b' URL "' + url + b'")')
    assert lines[-1].startswith(c.tag + b" OK [APPENDUID"), lines
    assert fetched(c, genurlauth(c, base_url(server, 2, b";URLAUTH=authuser")))[1] == \
        b"Subject: fwd\r\n\r\nplain part"
    # a token that does not verify: BADURL
    bad = url[:-1] + (b"0" if url[-1:] != b"0" else b"1")
    lines = c.cmd(b'APPEND INBOX CATENATE (URL "' + bad + b'")')
    assert lines[-1].startswith(c.tag + b" NO [BADURL"), lines
    c.close()
