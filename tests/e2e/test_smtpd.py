"""tern-smtpd end to end: real clients (smtplib, swaks) and raw sockets.

Most tests share one whole instance (mailctl init/start: the real authd,
queued and local delivery; messages checked byte-exact in the Maildirs). Tests
that need the queue to misbehave, look at the envelope smtpd commits, or run
smtpd as an ordinary user get tern-smtpd and the real tern-authd with a double
of queued (messages checked in the double's spool): see smtpd_env.py. Tests
that need authd down kill the real one.
"""
import base64
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

import ternipc as ipc
from smtp_raw import Raw
from conftest import port_open, proc_gone as gone, wait_for
from smtpd_env import ALIASES, USERS, make_env

ALICE, BOB = "alice@example.test", "bob@example.test"
SETTINGS = {"max_message_size": "200k", "max_recipients": "5", "max_errors": "5",
            "relay_domains": "relay.test"}


@pytest.fixture(scope="module")
def parent():
    d = tempfile.mkdtemp(prefix="tern-smtpd-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def env(parent):
    # wrong passwords answered at once (the delay is test_authd's business)
    e = make_env(parent, SETTINGS, authd_settings={"failure_delay": "0s"})
    yield e
    e.close()


@pytest.fixture
def fake(parent):
    """tern-smtpd and the real authd with a double of queued (failure injection)."""
    e = make_env(parent, SETTINGS, fake=True)
    yield e
    e.close()


def tls_ctx(env):
    ctx = ssl.create_default_context(cafile=env.cert())
    ctx.check_hostname = False
    return ctx


def smtp(env, port="smtp"):
    s = smtplib.SMTP("127.0.0.1", env.port(port), timeout=15)
    s.ehlo("client.test")
    return s


def submission(env, user=ALICE, port="submission"):
    if port == "smtps":
        s = smtplib.SMTP_SSL("127.0.0.1", env.port("smtps"), timeout=15, context=tls_ctx(env))
        s.ehlo("client.test")
    else:
        s = smtp(env, port)
        s.starttls(context=tls_ctx(env))
        s.ehlo("client.test")
    s.login(user, USERS[user])
    return s


def raw(env, port="smtp", ehlo=True, **kw):
    r = Raw(env.port(port), cafile=env.cert(), **kw)
    assert r.reply()[0] == 220
    if ehlo:
        assert r.cmd("EHLO client.test")[0] == 250
    return r


def unique(tag):
    return f"{tag}-{time.monotonic_ns()}"


def msg(subject, body="hello\r\n", extra=b""):
    return (f"From: x@remote.test\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\n").encode() + \
        extra + body.encode()


def delivered(env, user, subject, n=1):
    """Messages for user whose Subject is `subject` (waits, bounded, in real mode)."""
    needle = f"Subject: {subject}\r\n".encode()
    got = []
    deadline = time.monotonic() + (15 if env.mode == "real" else 0)
    while True:
        got = [m for m in env.for_user(user) if needle in m.data]
        if len(got) >= n or time.monotonic() >= deadline:
            return got
        time.sleep(0.1)


def sentinel(env):
    """Send one more message and wait for it: everything sent earlier has
    been processed by then, so absence checks are meaningful in real mode."""
    subject = unique("sentinel")
    with smtp(env) as s:
        s.sendmail("x@remote.test", [ALICE], msg(subject))
    assert delivered(env, ALICE, subject)


def nothing_with(env, text):
    return not [m for m in env.messages() if text.encode() in m.data]


# ------------------------------------------------------------ real clients

def test_ehlo_lists_extensions(env):
    with smtplib.SMTP("127.0.0.1", env.port("smtp"), timeout=10) as s:
        code, text = s.ehlo("client.test")
        assert code == 250
        for ext in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes",
                    "starttls", "chunking", "dsn"):
            assert s.has_extn(ext), ext
        assert s.esmtp_features["size"] == str(200 * 1024)
        assert not s.has_extn("auth")


def test_plain_send_is_stored_byte_exact(env):
    subject = unique("plain")
    data = msg(subject, "line one\r\nline two\r\n")
    with smtp(env) as s:
        s.sendmail("x@remote.test", [ALICE], data)
    [m] = delivered(env, ALICE, subject)
    assert m.body_after_received() == data
    assert f"by {env.hostname} (tern) with ESMTP id ".encode() in m.data
    assert b"from client.test ([127.0.0.1])" in m.data


def test_several_recipients(env):
    subject = unique("multi")
    with smtp(env) as s:
        refused = s.sendmail("x@remote.test", [ALICE, BOB], msg(subject))
    assert refused == {}
    assert len(delivered(env, ALICE, subject)) == 1
    assert len(delivered(env, BOB, subject)) == 1


def test_swaks_pipelining(env):
    subject = unique("pipelined")
    p = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(env.port("smtp")),
                        "--pipeline", "--helo", "client.test", "--from", "x@remote.test",
                        "--to", f"{ALICE},{BOB}", "--header", f"Subject: {subject}",
                        "--body", "pipelined body"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "250 2.0.0 Ok: queued as" in p.stdout
    assert delivered(env, ALICE, subject) and delivered(env, BOB, subject)


def test_size_refused_before_data(env):
    with smtp(env) as s:
        code, text = s.mail("x@remote.test", ["SIZE=%d" % (300 * 1024)])
        assert code == 552 and text.startswith(b"5.3.4")
        code, _ = s.mail("x@remote.test", ["SIZE=1000"])
        assert code == 250


def test_size_refused_during_data(env):
    subject = unique("toobig")
    big = msg(subject, ("x" * 76 + "\r\n") * 3000)     # ~234 KB > 200k
    with smtp(env) as s:
        assert s.mail("x@remote.test")[0] == 250         # no SIZE: found out while receiving
        assert s.rcpt(ALICE)[0] == 250
        code, text = s.data(big)
        assert code == 552 and text.startswith(b"5.3.4")
        # the session goes on
        s.rset()
        s.sendmail("x@remote.test", [ALICE], msg(subject + "-small"))
    assert delivered(env, ALICE, subject + "-small")
    assert nothing_with(env, f"Subject: {subject}\r\n")


def test_endless_data_is_cut_off(env):
    r = raw(env)
    r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n")
    assert [r.reply()[0] for _ in range(3)] == [250, 250, 354]
    line = b"z" * 998 + b"\r\n"
    try:
        for _ in range(6 * 1024):                   # 6 MB > 200k + 4 MB, no end
            r.sock.sendall(line)
    except OSError:
        pass                                        # the server may close first
    code, text = r.reply()
    assert code == 552 and text[0].startswith("5.3.4")
    assert r.closed()


def test_8bitmime_byte_exact(env):
    subject = unique("8bit")
    body = "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 caf\u00e9\r\n".encode() + b"latin1: \xe9\xe8\r\n"
    data = (f"Subject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n").encode() + body
    with smtp(env) as s:
        s.sendmail("x@remote.test", [ALICE], data, mail_options=["BODY=8BITMIME"])
    [m] = delivered(env, ALICE, subject)
    assert m.body_after_received() == data
    if env.mode == "double":
        assert m.env["flags"] & ipc.QF_8BITMIME


def test_smtputf8_byte_exact(env):
    subject = unique("utf8")
    sender = "j\u00f6rg@b\u00fccher.test"
    data = (f"From: {sender}\r\nTo: {ALICE}\r\nSubject: {subject}\r\nX-Note: \u00fcber\r\n\r\n"
            "\u65e5\u672c\u8a9e\r\n").encode()
    r = raw(env)                             # no SMTPUTF8: refused
    code, text = r.cmd(f"MAIL FROM:<{sender}>")
    assert code == 553 and text[0].startswith("5.6.7")
    r.close()
    with smtp(env) as s:
        s.sendmail(sender, [ALICE], data, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [m] = delivered(env, ALICE, subject)
    assert m.body_after_received() == data
    assert b"with UTF8SMTP id" in m.data
    if env.mode == "double":
        assert m.env["sender"] == sender and m.env["flags"] & ipc.QF_SMTPUTF8


def test_dot_stuffing_round_trip(env):
    subject = unique("dots")
    body = ".\r\n..\r\n.leading dot\r\n...three\r\nend\r\n.\r\n"
    data = msg(subject, body)
    with smtp(env) as s:
        s.sendmail("x@remote.test", [ALICE], data)     # smtplib stuffs the dots
    [m] = delivered(env, ALICE, subject)
    assert m.body_after_received() == data


def test_bdat_chunks(env):
    subject = unique("bdat")
    data = msg(subject, ".starts with a dot\r\nline\r\n.\r\nlast\r\n")
    a, b = data[:37], data[37:]
    r = raw(env)
    r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nBDAT {len(a)}\r\n".encode() + a +
           f"BDAT {len(b)} LAST\r\n".encode() + b)
    assert r.reply()[0] == 250
    assert r.reply()[0] == 250
    code, text = r.reply()
    assert code == 250 and f"{len(a)} octets" in text[0]
    code, text = r.reply()
    assert code == 250 and "queued as" in text[0]
    # BDAT 0 LAST ends a transaction too
    subject2 = unique("bdat0")
    d2 = msg(subject2)
    r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nBDAT {len(d2)}\r\n".encode() + d2 +
           b"BDAT 0 LAST\r\n")
    assert [r.reply()[0] for _ in range(4)] == [250, 250, 250, 250]
    assert r.code("QUIT") == 221
    [m] = delivered(env, ALICE, subject)
    assert m.body_after_received() == data
    assert b"with ESMTP id" in m.data
    assert delivered(env, ALICE, subject2)


def test_bdat_refused_chunk_is_never_read_as_commands(env):
    r = raw(env)
    payload = b"MAIL FROM:<evil@remote.test>\r\n"
    r.send(f"BDAT {len(payload)}\r\n".encode() + payload)
    assert r.reply()[0] == 503
    assert r.code(f"RCPT TO:<{ALICE}>") == 503      # the MAIL inside the chunk did not count
    r.close()


def test_bdat_chunk_far_over_the_limit(env):
    r = raw(env)
    r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nBDAT 999999999999 LAST\r\n")
    assert r.reply()[0] == 250 and r.reply()[0] == 250
    code, text = r.reply()
    assert code == 552 and text[0].startswith("5.3.4")
    assert r.closed()
    # a chunk just over the limit is read to its end, then refused
    r = raw(env)
    big = b"x" * 76 + b"\r\n"
    body = big * (210 * 1024 // len(big))
    r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nBDAT {len(body)} LAST\r\n".encode() + body)
    assert r.reply()[0] == 250 and r.reply()[0] == 250
    code, text = r.reply()
    assert code == 552 and text[0].startswith("5.3.4")
    assert r.code("NOOP") == 250
    r.close()


def test_bdat_bare_lf_refused(env):
    subject = unique("bdatlf")
    data = f"Subject: {subject}\r\n\r\nbare\nlf\r\n".encode()
    r = raw(env)
    r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nBDAT {len(data)} LAST\r\n".encode() + data)
    assert r.reply()[0] == 250 and r.reply()[0] == 250
    code, text = r.reply()
    assert code == 554 and text[0].startswith("5.6.0")
    assert r.code("QUIT") == 221
    sentinel(env)
    assert nothing_with(env, subject)


def test_starttls_then_ehlo_shows_auth(env):
    with smtp(env, "submission") as s:
        assert not s.has_extn("auth")
        s.starttls(context=tls_ctx(env))
        s.ehlo("client.test")
        assert s.has_extn("auth")
        assert "PLAIN" in s.esmtp_features["auth"] and "LOGIN" in s.esmtp_features["auth"]
        assert not s.has_extn("starttls")


def test_auth_refused_before_tls(env):
    token = base64.b64encode(f"\0{ALICE}\0{USERS[ALICE]}".encode()).decode()
    for port in ("smtp", "submission"):
        r = raw(env, port)
        code, text = r.cmd("AUTH PLAIN " + token)
        assert code == 538 and text[0].startswith("5.7.11")
        r.close()


def test_auth_plain_and_login(env):
    for port in ("submission", "smtps", "smtp"):
        s = submission(env, ALICE, port)
        s.quit()
    s = smtp(env, "submission")
    s.starttls(context=tls_ctx(env))
    s.ehlo("client.test")
    s.user, s.password = BOB, USERS[BOB]
    code, _ = s.auth("LOGIN", s.auth_login)
    assert code == 235
    s.quit()


def test_auth_wrong_password(env):
    s = smtp(env, "submission")
    s.starttls(context=tls_ctx(env))
    s.ehlo("client.test")
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        s.login(ALICE, "wrong")
    assert e.value.smtp_code == 535 and e.value.smtp_error.startswith(b"5.7.8")
    s.close()


def test_relay_after_auth(env):
    for port in ("submission", "smtps"):
        subject = unique("relay-" + port)
        with submission(env, ALICE, port) as s:
            refused = s.sendmail(ALICE, ["someone@remote.test", BOB], msg(subject))
            assert refused == {}
        [m] = delivered(env, BOB, subject)
        assert b"with ESMTPSA id" in m.data
        assert b"(using TLSv1." in m.data
        assert b"Authenticated sender" not in m.data      # not configured


def test_sender_mismatch_refused(env):
    with submission(env, ALICE) as s:
        code, text = s.mail(BOB)
        assert code == 553 and text.startswith(b"5.7.1")
        s.rset()
        assert s.mail("postmaster@example.test")[0] == 250     # an alias of alice
        s.rset()
        assert s.mail(ALICE)[0] == 250
        s.rset()
        assert s.mail("")[0] == 250                     # bounces relayed by a satellite


def test_open_relay_refused_on_every_port(env):
    # port 25: a remote recipient without AUTH
    r = raw(env, "smtp")
    assert r.code("MAIL FROM:<x@remote.test>") == 250
    code, text = r.cmd("RCPT TO:<victim@elsewhere.test>")
    assert code == 554 and text[0].startswith("5.7.1")
    r.close()
    # port 25 after STARTTLS, still no AUTH
    r = raw(env, "smtp")
    r.starttls()
    assert r.code("EHLO client.test") == 250
    assert r.code("MAIL FROM:<x@remote.test>") == 250
    assert r.code("RCPT TO:<victim@elsewhere.test>") == 554
    r.close()
    # submission and smtps: nothing without AUTH
    for port, implicit in (("submission", False), ("smtps", True)):
        r = raw(env, port, implicit_tls=implicit)
        code, text = r.cmd("MAIL FROM:<x@remote.test>")
        assert code == 530 and text[0].startswith("5.7.0")
        assert r.code("RCPT TO:<victim@elsewhere.test>") == 503
        r.close()
    r = raw(env, "submission")
    r.starttls()
    assert r.code("EHLO client.test") == 250
    assert r.code("MAIL FROM:<x@remote.test>") == 530
    r.close()


def test_unknown_recipient_and_relay_domains(env):
    r = raw(env)
    assert r.code("MAIL FROM:<x@remote.test>") == 250
    code, text = r.cmd("RCPT TO:<nobody@example.test>")
    assert code == 550 and text[0].startswith("5.1.1")
    assert r.code("RCPT TO:<someone@relay.test>") == 250
    assert r.code("RCPT TO:<sales@example.test>") == 250
    r.close()


def test_too_many_recipients(env):
    r = raw(env)
    assert r.code("MAIL FROM:<x@remote.test>") == 250
    for i in range(5):
        assert r.code(f"RCPT TO:<u{i}@relay.test>") == 250
    code, text = r.cmd("RCPT TO:<u9@relay.test>")
    assert code == 452 and text[0].startswith("4.5.3")
    r.close()


# ------------------------------------------------------------ raw protocol

SMUGGLING = [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r\n.\r", b"\r\n.\r\r\n"]


@pytest.mark.parametrize("ending", SMUGGLING, ids=lambda e: repr(e)[2:-1])
def test_smuggling_never_makes_a_second_message(env, ending):
    tag = unique("smuggle")
    r = raw(env)
    r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n")
    assert [r.reply()[0] for _ in range(3)] == [250, 250, 354]
    r.send(f"Subject: {tag}-first\r\n\r\nfirst".encode() + ending +
           f"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n"
           f"Subject: {tag}-smuggled\r\n\r\nevil\r\n.\r\n".encode())
    code, text = r.reply()
    assert code == 554 and text[0].startswith("5.6.0")
    assert r.code("QUIT") == 221
    sentinel(env)
    assert nothing_with(env, tag)


def test_starttls_pipelined_injection_is_discarded(env):
    r = raw(env)
    r.send("STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n")
    assert r.reply()[0] == 220
    r._wrap()
    assert r.code("EHLO client.test") == 250
    assert r.code(f"RCPT TO:<{ALICE}>") == 503        # the injected MAIL was dropped
    r.close()
    assert "after STARTTLS: discarded" in env.log_text()


def test_overlong_command_line(env):
    r = raw(env)
    # ESMTP parameters may take a MAIL or RCPT line past 512 (RFC 3461: ORCPT up to 500)
    assert r.code("MAIL FROM:<x@remote.test> ENVID=" + "e" * 100) == 250
    assert r.code(f"RCPT TO:<{ALICE}> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;" + "o" * 480) == 250
    assert r.code("RSET") == 250
    code, text = r.cmd("NOOP " + "a" * 600)
    assert code == 500 and text[0].startswith("5.5.2")
    code, text = r.cmd("NOOP " + "b" * 30000)      # beyond any buffer: one reply
    assert code == 500
    assert r.code("NOOP") == 250
    r.close()


def test_overlong_data_line_refused(env):
    subject = unique("longline")
    r = raw(env)
    r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n")
    assert [r.reply()[0] for _ in range(3)] == [250, 250, 354]
    r.send(f"Subject: {subject}\r\n\r\n".encode() + b"y" * 999 + b"\r\n.\r\n")
    code, text = r.cmd("NOOP")
    assert code == 554 and text[0].startswith("5.6.0")
    assert r.reply()[0] == 250
    r.close()
    sentinel(env)
    assert nothing_with(env, subject)


def test_quit_reply_survives_pipelined_junk(env):
    for _ in range(5):
        r = raw(env)
        r.send(b"QUIT\r\n" + b"NOOP\r\n" * 200)
        code, _ = r.reply()
        assert code == 221
        assert r.closed()


def test_out_of_sequence_gets_503(env):
    r = raw(env, ehlo=False)
    assert r.code("MAIL FROM:<x@remote.test>") == 503
    assert r.code("EHLO client.test") == 250
    assert r.code(f"RCPT TO:<{ALICE}>") == 503
    assert r.code("DATA") == 503
    assert r.code("MAIL FROM:<x@remote.test>") == 250
    code, text = r.cmd("MAIL FROM:<x@remote.test>")
    assert code == 503 and text[0].startswith("5.5.1")
    assert r.code("DATA") == 554                       # no valid recipients
    r.close()


def test_garbage_then_disconnect(env):
    r = raw(env, ehlo=False)
    for i in range(4):
        code, text = r.cmd("\x01\x7fGARBAGE \xff%d" % i)
        assert code == 500 and text[0].startswith("5.5.")
    code, text = r.cmd("ALSO GARBAGE")
    assert code == 500
    code, text = r.reply()
    assert code == 421 and text[0].startswith("4.7.0")
    assert r.closed()


def test_stalled_client_is_disconnected(parent):
    e = make_env(parent, dict(SETTINGS, command_timeout="2s"))
    try:
        r = raw(e)
        r.sock.settimeout(30)
        code, text = r.reply()       # no command sent: the server gives up
        assert code == 421 and text[0].startswith("4.4.2")
        assert r.closed()
    finally:
        e.close()


def test_sessions_per_ip_limit(parent):
    """The per-address limit applies outside trusted_networks (emptied here)."""
    e = make_env(parent, dict(SETTINGS, max_sessions_per_ip="2", trusted_networks=""))
    try:
        a, b = raw(e, ehlo=False), raw(e, ehlo=False)
        c = Raw(e.port("smtp"))
        code, text = c.reply()
        assert code == 421 and text[0].startswith("4.7.0")
        a.close()
        assert b.code("QUIT") == 221
    finally:
        e.close()


def test_fifty_sessions_from_one_address_by_default(parent):
    """Postfix's defaults: 50 sessions per client address, and none of that
    limit for mynetworks. 60 sessions from loopback (trusted by default) are all
    served; with trusted_networks emptied the 51st gets 421."""
    e = make_env(parent, dict(SETTINGS))
    conns = []
    try:
        conns = [raw(e, ehlo=False) for _ in range(60)]
        assert all(c.code("NOOP") == 250 for c in conns)
    finally:
        for c in conns:
            c.close()
        e.close()
    e = make_env(parent, dict(SETTINGS, trusted_networks=""))
    conns = []
    try:
        conns = [raw(e, ehlo=False) for _ in range(50)]
        assert all(c.code("NOOP") == 250 for c in conns)
        extra = Raw(e.port("smtp"))
        code, text = extra.reply()
        assert code == 421 and text[0].startswith("4.7.0"), (code, text)
        extra.close()
    finally:
        for c in conns:
            c.close()
        e.close()


# ------------------------------------------------------------ with a queue double

def test_250_only_after_queue_commit(fake):
    r = raw(fake)
    for status, code, enh in ((ipc.QS_TEMPFAIL, 451, "4.3.0"), (ipc.QS_NOSPACE, 452, "4.3.1"),
                              (ipc.QS_REJECT, 554, "5.6.0")):
        fake.queued.status = status
        r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n")
        assert [r.reply()[0] for _ in range(3)] == [250, 250, 354]
        got = r.cmd("Subject: q\r\n\r\nbody\r\n.")
        assert got[0] == code and got[1][0].startswith(enh), got
    fake.queued.status = ipc.QS_OK
    fake.queued.new_status = ipc.QS_TEMPFAIL
    r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\n")
    assert r.reply()[0] == 250 and r.reply()[0] == 250
    assert r.code("DATA") == 451
    r.close()
    assert fake.messages() == []


def test_queue_restart_is_survived(fake):
    fake.queued.stop()
    r = raw(fake)
    r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\n")
    assert r.reply()[0] == 250 and r.reply()[0] == 250
    assert r.code("DATA") == 451
    fake.queued = type(fake.queued)(fake.queued.path, fake.spool)
    r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\n")
    assert r.reply()[0] == 250 and r.reply()[0] == 250
    assert r.code("DATA") == 354
    assert r.cmd("Subject: back\r\n\r\nx\r\n.")[0] == 250
    r.close()
    assert len(fake.messages()) == 1


def test_auth_service_tempfail(fake):
    """authd gone (killed): lookups fail temporarily; once it is back, smtpd
    reconnects and the same session goes on."""
    r = raw(fake)
    assert r.code("MAIL FROM:<x@remote.test>") == 250
    assert r.code(f"RCPT TO:<{BOB}>") == 250            # connected to authd
    fake.authd.kill()
    code, text = r.cmd(f"RCPT TO:<{ALICE}>")
    assert code == 451 and text[0].startswith("4.3.0")
    fake.authd.start()
    assert r.code(f"RCPT TO:<{ALICE}>") == 250
    r.close()


def test_dsn_parameters_are_kept(fake):
    r = raw(fake)
    assert r.code("MAIL FROM:<x@remote.test> RET=HDRS ENVID=QQ+2B314") == 250
    assert r.code(f"RCPT TO:<{ALICE}> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;alice+40example.test") == 250
    assert r.code(f"RCPT TO:<{BOB}> NOTIFY=NEVER") == 250
    assert r.code("DATA") == 354
    assert r.cmd("Subject: dsn\r\n\r\nx\r\n.")[0] == 250
    r.close()
    [m] = fake.messages()
    assert m.env["envid"] == "QQ+2B314" and m.env["ret"] == 2
    assert m.env["rcpts"] == [
        {"addr": ALICE, "notify": 2 | 8, "orcpt": "rfc822;alice+40example.test"},
        {"addr": BOB, "notify": 1, "orcpt": ""}]
    assert b"for <" not in m.data          # several recipients: none named


def test_received_header_and_auth_user(parent):
    e = make_env(parent, dict(SETTINGS, add_auth_user_to_received="yes"), fake=True)
    try:
        with submission(e, ALICE) as s:
            s.sendmail(ALICE, [BOB], msg("recv"))
        [m] = e.messages()
        head = m.data.split(b"\r\nFrom: ")[0]
        assert b"(using TLSv1.3 with cipher TLS_" in head
        assert b"(Authenticated sender: alice@example.test)" in head
        assert b"with ESMTPSA id " + m.env["qid"].encode() in head
        assert b"for <bob@example.test>;" in head
        assert m.env["user"] == ALICE and m.env["flags"] & ipc.QF_AUTH
        # the real authd checked the password
        assert f"login: service=smtp user={ALICE} client=127.0.0.1 result=ok" in e.log_text()
    finally:
        e.close()


def test_8bit_data_without_8bitmime_is_marked(fake):
    with smtp(fake) as s:
        s.sendmail("x@remote.test", [ALICE], b"Subject: raw8\r\n\r\n\xc3\xa9t\xc3\xa9\r\n")
    [m] = fake.messages()
    assert m.env["flags"] & ipc.QF_8BITMIME


def test_session_and_message_log_lines(fake):
    with smtp(fake) as s:
        s.sendmail("x@remote.test", [ALICE], msg("logged"))
    [m] = fake.messages()
    log = fake.log_text()
    assert f"{m.env['qid']}: client=127.0.0.1 helo=client.test tls=no auth=- from=<x@remote.test> " \
           f"nrcpt=1 to=<{ALICE}>" in log
    assert wait_for(lambda: "disconnect client=127.0.0.1 port=smtp helo=client.test" in fake.log_text())


def test_unprivileged_run_full_session(parent):
    """Started by an ordinary user: no chroot, same behaviour; under ASan this
    run is where LeakSanitizer checks every path of a full session."""
    e = make_env(parent, SETTINGS, as_user="nobody")
    try:
        with submission(e, ALICE) as s:
            s.sendmail(ALICE, [BOB, "x@remote.test"], msg("unpriv"))
        with smtp(e) as s:
            s.sendmail("x@remote.test", [ALICE], msg("unpriv2"), mail_options=["BODY=8BITMIME"])
        r = raw(e)
        d = msg("unpriv3")
        r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nBDAT {len(d)} LAST\r\n".encode() + d)
        assert [r.reply()[0] for _ in range(3)] == [250, 250, 250]
        r.send("MAIL FROM:<x@remote.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n")
        assert [r.reply()[0] for _ in range(3)] == [250, 550, 554]
        r.close()
        r = raw(e)
        r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\nbare\n.\nx\r\n")
        assert [r.reply()[0] for _ in range(3)] == [250, 250, 354]
        r.close()        # dropped in the middle of DATA: the queue file is aborted
        assert len(e.messages()) == 3
        assert wait_for(lambda: e.uncommitted() == [])
    finally:
        e.close()


def test_sighup_finishes_sessions_then_exits(parent):
    e = make_env(parent, SETTINGS, fake=True)
    try:
        r = raw(e)
        proc = e.smtpd.proc
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload: no longer accepting" in e.log_text())
        assert not port_open(e.port("smtp"))          # this generation accepts no more
        r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n")
        assert [r.reply()[0] for _ in range(3)] == [250, 250, 354]
        assert r.cmd("Subject: after hup\r\n\r\nx\r\n.")[0] == 250
        assert proc.poll() is None                     # the session is still served
        assert r.code("QUIT") == 221
        proc.wait(timeout=10)
        assert proc.returncode == 0
        assert len(e.messages()) == 1
    finally:
        e.close()


def test_max_sessions_total(parent):
    # Two pools: port 25 (max_sessions) and submission + smtps
    # (max_submission_sessions); filling one leaves the other open.
    e = make_env(parent, dict(SETTINGS, max_sessions="1", max_submission_sessions="2"), fake=True)
    try:
        mx = raw(e, ehlo=False)
        code, text = Raw(e.port("smtp")).reply()
        assert code == 421 and text[0].startswith("4.7.0")
        b = raw(e, "submission", ehlo=False)           # its own pool
        c = raw(e, "submission", ehlo=False)
        d = Raw(e.port("smtps"), implicit_tls=False)
        code, text = d.reply()                         # refused before any TLS
        assert code == 421 and text[0].startswith("4.7.0")
        for x in (mx, b, c):
            x.close()
        assert wait_for(lambda: "refused client=127.0.0.1 port=smtps" in e.log_text())
    finally:
        e.close()


def test_plaintext_auth_on_loopback_when_configured(parent):
    e = make_env(parent, dict(SETTINGS, plaintext_auth_networks="127.0.0.0/8, ::1"), fake=True)
    try:
        with smtp(e, "submission") as s:
            assert s.has_extn("auth")
            s.login(ALICE, USERS[ALICE])
            assert s.mail(ALICE)[0] == 250
    finally:
        e.close()


def test_client_closing_mid_reply_is_cleaned_up(fake):
    """Clients that vanish at any point leave no session behind."""
    for script in (b"EHLO x\r\nQUIT\r\n", b"EHLO x\r\nMAIL FROM:<a@b.test>\r\n",
                   b"EHLO x\r\nSTARTTLS\r\n", b"\x16\x03\x01garbage", b"EHLO x\r\nBDAT 100\r\nabc"):
        r = Raw(fake.port("smtp"))
        r.send(script)
        r.close()
    r = Raw(fake.port("smtps"))
    r.close()
    assert wait_for(lambda: fake.log_text().count(" disconnect client=") == 6), fake.log_text()


def test_many_concurrent_pipelined_sessions(parent):
    """smtp-source (Postfix's load generator): 40 parallel pipelining sessions,
    400 messages; every one is accepted and stored. (Many QUEUE_NEW answers,
    each with an fd, then arrive at once.)"""
    e = make_env(parent, dict(SETTINGS, max_sessions_per_ip="100"))
    try:
        tag = unique("load")
        p = subprocess.run(["/usr/sbin/smtp-source", "-s", "40", "-m", "400", "-l", "3000",
                            "-f", "x@remote.test", "-t", BOB, "-S", tag, "-c",
                            f"127.0.0.1:{e.port('smtp')}"],
                           capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stdout + p.stderr
        assert wait_for(lambda: len(delivered(e, BOB, tag, 400)) == 400, timeout=90), \
            f"{len(delivered(e, BOB, tag, 400))} of 400 stored"
        assert len(e.for_user(BOB)) == 400
    finally:
        e.close()


def test_queue_that_stops_answering(parent):
    e = make_env(parent, dict(SETTINGS, queue_timeout="2s"), fake=True)
    try:
        e.queued.stall = True
        r = raw(e)
        r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\n")
        assert r.reply()[0] == 250 and r.reply()[0] == 250
        r.sock.settimeout(30)
        code, text = r.cmd("DATA")          # no answer from the queue: 451, not a hang
        assert code == 451 and text[0].startswith("4.3.0")
        e.queued.stall = False
        r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\n")
        assert r.reply()[0] == 250 and r.reply()[0] == 250
        assert r.code("DATA") == 354
        assert r.cmd("Subject: later\r\n\r\nx\r\n.")[0] == 250
        r.close()
        assert len(e.messages()) == 1
        assert "queue: no answer to request" in e.log_text()
    finally:
        e.close()


def test_random_sessions_never_crash(parent):
    """Sessions of random commands, parameters and bytes (fixed seeds): each
    gets replies or a clean close; the daemon keeps serving and exits cleanly
    (under ASan: no memory error, no leak — this env runs unprivileged)."""
    import random
    e = make_env(parent, dict(SETTINGS, max_errors="50"), as_user="nobody")
    words = ["EHLO c.test", "HELO c.test", "MAIL FROM:<x@remote.test>", "MAIL FROM:<>",
             f"RCPT TO:<{ALICE}>", "RCPT TO:<nobody@example.test>", "RCPT TO:<a@elsewhere.test>",
             "DATA", "BDAT 5", "BDAT 3 LAST", "BDAT 0 LAST", "RSET", "NOOP", "VRFY x", "HELP",
             "STARTTLS", "AUTH PLAIN", "AUTH LOGIN", "AUTH PLAIN AGFsaWNlAHg=", "*",
             "MAIL FROM:<x@remote.test> SIZE=99999999999 BODY=8BITMIME SMTPUTF8",
             "RCPT TO:<a@b.test> NOTIFY=NEVER ORCPT=rfc822;a+40b", ".", "..", ""]
    try:
        for seed in range(40):
            rnd = random.Random(seed)
            out = b""
            for _ in range(rnd.randrange(5, 40)):
                k = rnd.random()
                if k < 0.6:
                    out += rnd.choice(words).encode() + rnd.choice([b"\r\n", b"\r\n", b"\n", b"\r"])
                elif k < 0.8:
                    out += bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 64)))
                else:
                    out += rnd.choice([b"\r\n.\r\n", b"\n.\n", b"x" * 1200 + b"\r\n", b"\x00\r\n"])
            r = Raw(e.port(rnd.choice(["smtp", "submission"])), timeout=5)
            try:
                # QUIT ends most sessions at once; one stuck in a BDAT chunk or
                # AUTH exchange is dropped after the wait, as a client would.
                r.send(out + b"\r\nQUIT\r\n")
                r.closed(timeout=2)
            except OSError:
                pass
            r.close()
        r = raw(e)                                   # still serving
        assert r.code("QUIT") == 221
    finally:
        e.close()                                    # asserts a clean exit


def test_print_config_and_check(parent):
    from smtpd_env import SMTPD
    p = subprocess.run([SMTPD, "--print-config"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0
    for key in ("max_message_size = 35m", "max_recipients = 100", "max_command_line = 512",
                "max_text_line = 998", "command_timeout = 5m", "data_timeout = 3m",
                "max_sessions_per_ip = 50", "relay_domains =", "add_auth_user_to_received = no"):
        assert key in p.stdout, key
    d = tempfile.mkdtemp(dir=parent)
    with open(os.path.join(d, "tern.conf"), "w") as f:
        f.write("hostname = mx.example.test\n")
    with open(os.path.join(d, "smtpd.conf"), "w") as f:
        f.write(p.stdout + "max_recipients = lots\nno_such_key = 1\n")
    c = subprocess.run([SMTPD, "--check", "-c", d], capture_output=True, text=True, timeout=10)
    assert c.returncode == 1
    lines = c.stdout.strip().splitlines()
    assert len(lines) >= 2 and all("smtpd.conf:" in l for l in lines), c.stdout
    with open(os.path.join(d, "smtpd.conf"), "w") as f:
        f.write(p.stdout)
    c = subprocess.run([SMTPD, "--check", "-c", d], capture_output=True, text=True, timeout=10)
    assert c.returncode == 0 and c.stdout == ""


def test_repeated_auth_failures_lock_the_client_out(parent):
    """authd slows and then refuses a guessing client: smtpd says 454 4.7.0."""
    e = make_env(parent, dict(SETTINGS, max_errors="50"),
                 authd_settings={"failure_delay": "0s", "max_failures": "3"})
    try:
        s = smtp(e, "submission")
        s.starttls(context=tls_ctx(e))
        s.ehlo("client.test")
        for _ in range(3):
            code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(
                f"\0{ALICE}\0wrong".encode()).decode())
            assert code == 535 and text.startswith(b"5.7.8")
        code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(
            f"\0{ALICE}\0{USERS[ALICE]}".encode()).decode())
        assert code == 454 and text.startswith(b"4.7.0"), (code, text)
        s.close()
    finally:
        e.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="privilege separation is only visible when started as root")
def test_runs_unprivileged_in_its_chroot(env):
    import pwd
    pid = env.smtpd_pid()
    with open(f"/proc/{pid}/status") as f:
        ids = {l.split(":")[0]: l.split()[1:] for l in f if l.startswith(("Uid:", "Gid:", "Groups:"))}
    acct = pwd.getpwnam("tern-smtpd")
    assert ids["Uid"] == [str(acct.pw_uid)] * 4
    assert ids["Gid"] == [str(acct.pw_gid)] * 4
    assert os.path.realpath(f"/proc/{pid}/root") == os.path.realpath(env.run_dir())


def test_reload_keeps_sessions(parent):
    """mailctl reload: the open session goes on with the old smtpd, new
    connections reach the new one, and the old one exits after its session."""
    e = make_env(parent, SETTINGS)
    try:
        r = raw(e)
        old = e.smtpd_pid()
        e.inst.ctl("reload")
        assert wait_for(lambda: e.smtpd_pid() != old, timeout=20)
        with smtp(e) as s:                              # the new generation
            s.sendmail("x@remote.test", [ALICE], msg(unique("new-gen")))
        r.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n")
        assert [r.reply()[0] for _ in range(3)] == [250, 250, 354]
        subject = unique("old-gen")
        assert r.cmd(f"Subject: {subject}\r\n\r\nx\r\n.")[0] == 250
        assert not gone(old)
        assert r.code("QUIT") == 221
        assert wait_for(lambda: gone(old), timeout=20)
        assert delivered(e, ALICE, subject)
    finally:
        e.close()


def test_ipv6_client(parent):
    from smtpd_env import QueueDoubleEnv
    e = QueueDoubleEnv(parent, SETTINGS, host="::1")
    try:
        with smtplib.SMTP("::1", e.port("smtp"), timeout=10) as s:
            code, text = s.ehlo("client.test")
            assert b"[::1]" in text
            s.sendmail("x@remote.test", [ALICE], msg("v6"))
        [m] = e.messages()
        assert b"Received: from client.test ([IPv6:::1])" in m.data
        assert "client=::1" in e.log_text()
    finally:
        e.close()


def test_out_of_file_descriptors_pauses_then_recovers(parent):
    """With too few descriptors accept() fails (EMFILE): smtpd pauses
    accepting, keeps its sessions, and serves again once some are closed."""
    from smtpd_env import QueueDoubleEnv
    e = QueueDoubleEnv(parent, dict(SETTINGS, max_sessions_per_ip="1000"), nofile=48)
    conns = []
    try:
        assert "file descriptors, the limit is 48" in e.log_text()
        for _ in range(60):
            c = socket.create_connection(("127.0.0.1", e.port("smtp")), timeout=10)
            conns.append(c)
        assert wait_for(lambda: "pausing until descriptors free up" in e.log_text())
        first = Raw.__new__(Raw)
        first.sock, first.buf = conns[0], b""
        assert first.reply()[0] == 220                 # accepted sessions are served
        assert first.code("EHLO c.test") == 250
        for c in conns:
            c.close()
        conns = []
        r = Raw(e.port("smtp"), timeout=15)             # and new ones again
        assert r.reply()[0] == 220
        assert r.code("QUIT") == 221
    finally:
        for c in conns:
            c.close()
        e.close()


def test_sigterm_with_open_sessions(parent):
    """SIGTERM: open sessions hear 421 4.3.2, the daemon exits cleanly (under
    ASan, unprivileged: nothing leaked), nothing half-received is queued."""
    e = make_env(parent, SETTINGS, as_user="nobody")
    try:
        a = raw(e)
        a.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n")
        assert [a.reply()[0] for _ in range(3)] == [250, 250, 354]
        a.send("Subject: half\r\n\r\nnot finished")
        b = raw(e, "submission", ehlo=False)
        c = raw(e, "smtps", implicit_tls=True)
        assert c.code("EHLO c.test") == 250
        assert wait_for(lambda: "session 3" in e.log_text() or e.mode == "double")
        e.smtpd.proc.send_signal(signal.SIGTERM)
        for r in (a, b):
            code, text = r.reply()
            assert code == 421 and text[0].startswith("4.3.2")
            assert r.closed()
        assert c.closed()
        e.smtpd.proc.wait(timeout=10)
    finally:
        e.close()
    assert e.messages() == []
