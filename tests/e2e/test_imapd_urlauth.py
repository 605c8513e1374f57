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


# ---- URLs of another user: fetched by the mail role for the asker ----

def a_url(owner, uid, access):
    return base_url(owner, uid, b";URLAUTH=" + access)


def test_urlfetch_and_catenate_of_another_users_urls(server, imap_instance):
    reader = Mailbox(imap_instance)
    stranger = Mailbox(imap_instance)
    a = RawImap(server)
    a.ok(b"APPEND INBOX " + lit(MSG))
    authuser = genurlauth(a, a_url(server, 1, b"authuser"))
    for_reader = genurlauth(a, a_url(server, 1, b"user+" + reader.user.encode()))
    anon = genurlauth(a, base_url(server, 1, b"/;SECTION=2;URLAUTH=anonymous"))
    b = RawImap(reader)
    assert fetched(b, authuser)[1] == MSG
    assert fetched(b, for_reader)[1] == MSG
    head, data = fetched(b, anon, b" BINARY BODYPARTSTRUCTURE")
    assert data == b"\x00bin\x00data" and b"BODYPARTSTRUCTURE (" in head
    s = RawImap(stranger)
    assert fetched(s, for_reader) is None	# user+ names someone else
    assert fetched(s, authuser)[1] == MSG
    # another user's URL in CATENATE, read through the mail role too
    lines = b.cmd(b'APPEND INBOX CATENATE (TEXT ' + lit(b"X-Fwd: 1\r\n") + b' URL "' + authuser + b'")')
    assert lines[-1].startswith(b.tag + b" OK [APPENDUID"), lines
    mine = genurlauth(b, a_url(reader, 1, b"authuser"))
    assert fetched(b, mine)[1] == b"X-Fwd: 1\r\n" + MSG
    # a forged token, or a URL without URLAUTH: nothing
    forged = authuser[:-1] + (b"0" if authuser[-1:] != b"0" else b"1")
    assert fetched(b, forged) is None
    lines = b.cmd(b'APPEND INBOX CATENATE (URL "' + base_url(server, 1) + b'")')
    assert lines[-1].startswith(b.tag + b" NO [BADURL"), lines
    # the owner revokes them all
    assert raw(a, b"RESETKEY INBOX").endswith(b"OK RESETKEY completed\r\n")
    assert fetched(b, authuser) is None and fetched(s, anon) is None
    for c in (a, b, s):
        c.close()
    assert "urlauth: fetch for " + stranger.user + " refused" in imap_instance.log_text()


def test_urlauth_service_names_the_asker_from_credentials(server, imap_instance):
    """Only the mail role's own session processes and the submission server's
    account may ask: another local account is turned away unanswered."""
    import socket
    import subprocess
    import sys
    from conftest import IS_ROOT
    if not IS_ROOT:
        pytest.skip("needs root to connect as another account")
    path = os.path.join(imap_instance.dir, "run", "imap-urlauth.sock")
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)\n"
            "try: s.sendall(b'x'*12); print(len(s.recv(100)))\n"
            "except (BrokenPipeError, ConnectionResetError): print(0)\n")
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                         user="nobody", timeout=20)
    assert out.stdout.strip() == "0", out   # closed without a word
    assert "urlauth: request from uid" in imap_instance.log_text()


# ---- BURL (RFC 4468): submission takes the message from a URLAUTH URL ----

def submission(srv, user=None, pw=None):
    import smtplib
    import ssl
    s = smtplib.SMTP("127.0.0.1", srv.inst.inst.port("submission"), timeout=30)
    ctx = ssl.create_default_context(cafile=srv.cert())
    ctx.check_hostname = False
    s.ehlo("client.test")
    assert "burl" not in s.esmtp_features
    s.starttls(context=ctx)
    s.ehlo("client.test")
    assert "burl" not in s.esmtp_features     # only once authenticated
    s.login(user or srv.user, pw or srv.pw)
    s.ehlo("client.test")
    assert s.esmtp_features.get("burl") == "imap", s.esmtp_features
    return s


def delivered(srv, n):
    from conftest import wait_for
    new = os.path.join(srv.maildir(), "new")
    assert wait_for(lambda: len(os.listdir(new)) >= n, 30), srv.log_text()[-3000:]
    files = sorted(os.listdir(new), key=lambda f: os.path.getmtime(os.path.join(new, f)))
    return [open(os.path.join(new, f), "rb").read() for f in files]


def test_burl_submits_a_message_from_a_urlauth_url(server, imap_instance):
    rcpt = Mailbox(imap_instance)
    a = RawImap(server)
    a.ok(b"APPEND INBOX " + lit(MSG))
    url = genurlauth(a, a_url(server, 1, b"submit+" + server.user.encode()))
    part = genurlauth(a, base_url(server, 1, b"/;SECTION=1;URLAUTH=submit+" + server.user.encode()))
    a.close()
    s = submission(server)
    assert s.docmd("MAIL FROM:<%s>" % server.user)[0] == 250
    assert s.docmd("RCPT TO:<%s>" % rcpt.user)[0] == 250
    code, text = s.docmd("BURL " + url.decode() + " LAST")
    assert code == 250 and b"queued as" in text, (code, text)
    # a BDAT chunk, then a URL naming one part, then the end
    assert s.docmd("MAIL FROM:<%s>" % server.user)[0] == 250
    assert s.docmd("RCPT TO:<%s>" % rcpt.user)[0] == 250
    chunk = b"Subject: quoted\r\n\r\nbefore: "
    s.send(b"BDAT %d\r\n" % len(chunk) + chunk)
    assert s.getreply()[0] == 250
    code, text = s.docmd("BURL " + part.decode())
    assert code == 250 and b"octets received" in text, (code, text)
    s.send(b"BDAT 2 LAST\r\n\r\n")
    assert s.getreply()[0] == 250
    s.quit()
    first, second = delivered(rcpt, 2)
    as_lf = MSG.replace(b"\r\n", b"\n")
    assert first.endswith(as_lf), first      # below our Received: header
    assert second.endswith(b"Subject: quoted\n\nbefore: plain part\n"), second
    assert "burl: user=" + server.user in imap_instance.log_text()


def test_burl_refusals(server, imap_instance):
    other = Mailbox(imap_instance)
    a = RawImap(server)
    a.ok(b"APPEND INBOX " + lit(MSG))
    mine = genurlauth(a, a_url(server, 1, b"submit+" + server.user.encode())).decode()
    authuser = genurlauth(a, a_url(server, 1, b"authuser")).decode()
    a.close()
    forged = mine[:-1] + ("0" if mine[-1] != "0" else "1")
    s = submission(other)           # authenticated as another user
    for url, want in [(mine, 554), (authuser, 554), (forged, 554), ("imap://x@y/INBOX/;UID=1", 554)]:
        assert s.docmd("MAIL FROM:<%s>" % other.user)[0] == 250
        assert s.docmd("RCPT TO:<%s>" % server.user)[0] == 250
        code, text = s.docmd("BURL " + url + " LAST")
        assert code == want and b"5.6.6" in text, (url, code, text)
    assert s.docmd("BURL " + mine)[0] == 503          # no transaction
    assert s.docmd("MAIL FROM:<%s>" % other.user)[0] == 250
    assert s.docmd("RCPT TO:<%s>" % server.user)[0] == 250
    assert s.docmd("BURL http://example.test/x LAST")[0] == 501
    assert s.docmd("RSET")[0] == 250
    s.quit()
    assert os.listdir(os.path.join(server.maildir(), "new")) == []
