"""tern-pop3d end to end: Python poplib, fetchmail and raw sockets against the
login role and the mail role (see pop3env.py for how they are started)."""
import os
import poplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import IS_ROOT, wait_for
from pop3env import Pop3Env, pop3_lock_free

ALICE, ALICE_PW = "alice@example.test", "alice-pw"
BOB, BOB_PW = "bob@example.test", "bob pw"

MSG1 = "From: a@b.test\nTo: alice@example.test\nSubject: one\n\nHello\n.dot line\n..two dots\nlast\n"
MSG2 = ("From: c@d.test\nSubject: two\n\n" + "".join(f"line {i}\n" for i in range(200)))
MSG3 = "Subject: three\n\nno final newline"


SMTP_MSGS = [
    b"From: s@remote.test\r\nTo: alice@example.test\r\nSubject: smtp one\r\n\r\nbody\r\n.leading dot\r\n",
    b"Subject: smtp two\r\n\r\n" + b"".join(b"line %d of a longer message\r\n" % i for i in range(3000)),
    b"Subject: smtp three\r\n\r\n..\r\n.\r\nend\r\n",
]


def wire(text):
    """What RETR must send for a stored message (before the final '.')."""
    data = text.replace("\r\n", "\n")
    if data and not data.endswith("\n"):
        data += "\n"
    return data.replace("\n", "\r\n").encode()


@pytest.fixture
def env(tmp_parent):
    e = Pop3Env(tmp_parent, settings={"plaintext_auth_networks": "127.0.0.0/8, ::1"})
    yield e
    e.stop()


@pytest.fixture
def tls_env(tmp_parent):
    """Default settings: no plaintext logins, even on loopback."""
    e = Pop3Env(tmp_parent)
    yield e
    e.stop()


def login(env, user=ALICE, pw=ALICE_PW):
    p = poplib.POP3(env.HOST, env.port("pop3"), timeout=10)
    p.user(user)
    p.pass_(pw)
    return p


def tls_context(env):
    ctx = ssl.create_default_context(cafile=env.cert())
    ctx.check_hostname = False	# the certificate names mx.example.test, we dial 127.0.0.1
    return ctx


class Raw:
    """A raw line-oriented client for pipelining and abuse tests."""

    def __init__(self, env, port_name="pop3"):
        self.s = socket.create_connection((env.HOST, env.port(port_name)), timeout=10)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def multiline(self):
        out = []
        while True:
            l = self.line()
            if l == b".":
                return out
            out.append(l)

    def closed(self, timeout=10):
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (socket.timeout, ConnectionResetError):
            return False

    def close(self):
        self.s.close()


# ---------------------------------------------------------------- basics

def test_greeting_capa_and_quit(env):
    p = poplib.POP3(env.HOST, env.port("pop3"), timeout=10)
    assert p.getwelcome().startswith(b"+OK")
    caps = p.capa()
    for c in ("TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS"):
        assert c in caps, c
    assert caps["SASL"] == ["PLAIN", "LOGIN"]
    assert caps["IMPLEMENTATION"] == ["tern"]
    assert p.quit().startswith(b"+OK")


def test_stat_list_uidl_retr_top_byte_exact(env):
    b1 = env.deliver(ALICE, MSG1, when=time.time() - 30)
    b2 = env.deliver(ALICE, MSG2, when=time.time() - 20)
    b3 = env.deliver(ALICE, MSG3, when=time.time() - 10)
    p = login(env)
    sizes = [len(wire(m)) for m in (MSG1, MSG2, MSG3)]
    assert p.stat() == (3, sum(sizes))
    resp, lines, _ = p.list()
    assert lines == [f"{i + 1} {s}".encode() for i, s in enumerate(sizes)]
    assert p.list(2).split()[1:] == [b"2", str(sizes[1]).encode()]
    resp, lines, _ = p.uidl()
    assert lines == [f"{i + 1} {b}".encode() for i, b in enumerate((b1, b2, b3))]
    for i, m in enumerate((MSG1, MSG2, MSG3)):
        resp, lines, octets = p.retr(i + 1)
        got = b"".join(l + b"\r\n" for l in lines)	# poplib un-stuffs the dots
        assert got == wire(m)
        assert octets - 2 * len(lines) >= 0
    resp, lines, _ = p.top(2, 3)
    assert lines == [b"From: c@d.test", b"Subject: two", b"", b"line 0", b"line 1", b"line 2"]
    resp, lines, _ = p.top(1, 0)
    assert lines == [b"From: a@b.test", b"To: alice@example.test", b"Subject: one", b""]
    p.quit()
    # Messages were moved to cur/ with ":2," and nothing was deleted.
    assert env.files(ALICE) == sorted(b + ":2," for b in (b1, b2, b3))


def test_dot_stuffing_on_the_wire(env):
    env.deliver(ALICE, MSG1)
    r = Raw(env)
    r.line()
    r.send(f"USER {ALICE}\r\nPASS {ALICE_PW}\r\nRETR 1\r\n".encode())
    assert r.line().startswith(b"+OK")
    assert r.line().startswith(b"+OK")
    head = r.line()
    assert head == f"+OK {len(wire(MSG1))} octets".encode()
    body = r.multiline()
    assert b"..dot line" in body and b"...two dots" in body
    r.send(b"QUIT\r\n")
    assert r.line().startswith(b"+OK")
    r.close()


def test_dele_quit_removes(env):
    env.deliver(ALICE, MSG1)
    keep = env.deliver(ALICE, MSG2, when=time.time() + 5)
    p = login(env)
    p.dele(1)
    assert p.stat() == (1, len(wire(MSG2)))
    with pytest.raises(poplib.error_proto):
        p.retr(1)
    p.quit()
    assert env.files(ALICE) == [keep + ":2,"]


def test_dele_then_drop_removes_nothing(env):
    env.deliver(ALICE, MSG1)
    env.deliver(ALICE, MSG2)
    p = login(env)
    p.dele(1)
    p.dele(2)
    p.sock.shutdown(socket.SHUT_RDWR)	# no QUIT: no UPDATE state
    p.close()
    assert wait_for(lambda: "end=disconnect" in env.log_text())
    assert len(env.files(ALICE)) == 2
    p = login(env)
    assert p.stat()[0] == 2
    p.quit()


def test_rset_undeletes(env):
    env.deliver(ALICE, MSG1)
    p = login(env)
    p.dele(1)
    assert p.stat()[0] == 0
    p.rset()
    assert p.stat()[0] == 1
    p.quit()
    assert len(env.files(ALICE)) == 1


def test_second_session_in_use(env):
    env.deliver(ALICE, MSG1)
    p1 = login(env)
    p2 = poplib.POP3(env.HOST, env.port("pop3"), timeout=10)
    p2.user(ALICE)
    with pytest.raises(poplib.error_proto) as e:
        p2.pass_(ALICE_PW)
    assert b"[IN-USE]" in e.value.args[0]
    # Another user is not affected.
    p3 = login(env, BOB, BOB_PW)
    p3.quit()
    p1.quit()
    p2 = login(env)
    p2.quit()


def test_wrong_password_auth_code(env):
    p = poplib.POP3(env.HOST, env.port("pop3"), timeout=10)
    p.user(ALICE)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong")
    assert e.value.args[0].startswith(b"-ERR [AUTH]")
    # The session stays in AUTHORIZATION: a right login still works.
    p.user(ALICE)
    p.pass_(ALICE_PW)
    p.quit()
    # One log line for a session that never logged in, with what it tried.
    p = poplib.POP3(env.HOST, env.port("pop3"), timeout=10)
    p.user(BOB)
    with pytest.raises(poplib.error_proto):
        p.pass_("wrong")
    p.quit()
    assert wait_for(lambda: f"user={BOB} failed_logins=1 errors=1" in env.log_text())


def test_password_with_spaces_and_user_case(env):
    p = login(env, "Bob@Example.Test", BOB_PW)
    assert p.stat() == (0, 0)
    p.quit()


def test_sasl_plain_and_login(env):
    import base64
    env.deliver(ALICE, MSG1)
    r = Raw(env)
    r.line()
    cred = base64.b64encode(f"\0{ALICE}\0{ALICE_PW}".encode())
    r.send(b"AUTH PLAIN " + cred + b"\r\nSTAT\r\nQUIT\r\n")
    assert r.line().startswith(b"+OK")
    assert r.line() == f"+OK 1 {len(wire(MSG1))}".encode()
    assert r.line().startswith(b"+OK")
    r.close()
    r = Raw(env)
    r.line()
    r.send(b"AUTH LOGIN\r\n")
    assert r.line() == b"+ VXNlcm5hbWU6"
    r.send(base64.b64encode(ALICE.encode()) + b"\r\n")
    assert r.line() == b"+ UGFzc3dvcmQ6"
    r.send(base64.b64encode(b"nope") + b"\r\n")
    assert r.line().startswith(b"-ERR [AUTH]")
    r.send(b"AUTH PLAIN\r\n")
    assert r.line() == b"+ "
    r.send(b"*\r\n")
    assert r.line().startswith(b"-ERR")
    r.send(b"AUTH PLAIN !!notbase64\r\n")
    assert r.line().startswith(b"-ERR")
    # USER, then AUTH LOGIN with an initial response that fails half-way:
    # nothing of either is left for a PASS.
    r.send(f"USER {ALICE}\r\nAUTH LOGIN ".encode() + base64.b64encode(ALICE.encode()) + b"\r\n*\r\n")
    assert r.line().startswith(b"+OK")
    assert r.line() == b"+ UGFzc3dvcmQ6"
    assert r.line().startswith(b"-ERR")
    r.send(f"PASS {ALICE_PW}\r\n".encode())
    assert r.line() == b"-ERR USER first"
    r.send(b"QUIT\r\n")
    assert r.line().startswith(b"+OK")
    r.close()


# ---------------------------------------------------------------- TLS

def test_plaintext_login_refused_without_tls(tls_env):
    p = poplib.POP3(tls_env.HOST, tls_env.port("pop3"), timeout=10)
    caps = p.capa()
    assert "STLS" in caps and "USER" not in caps and "SASL" not in caps
    with pytest.raises(poplib.error_proto) as e:
        p.user(ALICE)
    assert b"[AUTH]" in e.value.args[0]
    p.quit()


def test_stls_then_login(tls_env):
    tls_env.deliver(ALICE, MSG1)
    p = poplib.POP3(tls_env.HOST, tls_env.port("pop3"), timeout=10)
    p.stls(context=tls_context(tls_env))
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps
    p.user(ALICE)
    p.pass_(ALICE_PW)
    assert p.stat() == (1, len(wire(MSG1)))
    resp, lines, _ = p.retr(1)
    assert b"".join(l + b"\r\n" for l in lines) == wire(MSG1)
    p.dele(1)
    p.quit()
    assert tls_env.files(ALICE) == []


def test_pop3s_implicit_tls(tls_env):
    body = MSG2 * 50	# large enough to cross the relay buffers
    tls_env.deliver(ALICE, body)
    p = poplib.POP3_SSL(tls_env.HOST, tls_env.port("pop3s"), context=tls_context(tls_env), timeout=10)
    p.user(ALICE)
    p.pass_(ALICE_PW)
    resp, lines, _ = p.retr(1)
    assert b"".join(l + b"\r\n" for l in lines) == wire(body)
    p.quit()


def test_stls_discards_pipelined_plaintext(tls_env):
    r = Raw(tls_env)
    r.line()
    r.send(b"STLS\r\nCAPA\r\n")
    assert r.line().startswith(b"+OK")
    ctx = tls_context(tls_env)
    t = ctx.wrap_socket(r.s, server_hostname="mx.example.test")
    t.sendall(b"NOOP\r\n")
    # The CAPA sent before the handshake must not be answered inside TLS.
    assert t.recv(4096).startswith(b"-ERR Command not valid")
    t.sendall(b"QUIT\r\n")
    t.close()


# ---------------------------------------------------------------- protocol errors

def test_unknown_and_wrong_state_commands(env):
    r = Raw(env)
    r.line()
    r.send(b"FROB\r\n")
    assert r.line() == b"-ERR Unknown command"
    r.send(b"STAT\r\n")
    assert r.line() == b"-ERR Command not valid in this state"
    r.send(b"PASS x\r\n")
    assert r.line().startswith(b"-ERR")
    r.send(f"USER {ALICE}\r\nPASS {ALICE_PW}\r\n".encode())
    assert r.line().startswith(b"+OK")
    assert r.line().startswith(b"+OK")
    r.send(b"USER x\r\n")
    assert r.line() == b"-ERR Command not valid in this state"
    r.send(b"STLS\r\n")
    assert r.line() == b"-ERR Command not valid in this state"
    r.send(b"RETR 1\r\nRETR x\r\nTOP 1\r\nLIST 0\r\nNOOP\r\n")
    assert r.line().startswith(b"-ERR")
    assert r.line().startswith(b"-ERR")
    assert r.line().startswith(b"-ERR")
    assert r.line().startswith(b"-ERR")
    assert r.line() == b"+OK"
    r.send(b"QUIT\r\n")
    assert r.line().startswith(b"+OK")
    r.close()


def test_overlong_command_refused(env):
    r = Raw(env)
    r.line()
    r.send(b"USER " + b"a" * 5000 + b"\r\nNOOP\r\nCAPA\r\n")
    assert r.line() == b"-ERR Line too long"
    assert r.line() == b"-ERR Command not valid in this state"	# NOOP before login
    assert r.line().startswith(b"+OK")
    r.multiline()
    r.send(f"USER {ALICE}\r\nPASS {ALICE_PW}\r\n".encode())
    r.line(), r.line()
    r.send(b"LIST " + b"9" * 3000 + b"\r\nNOOP\r\n")
    assert r.line() == b"-ERR Line too long"
    assert r.line() == b"+OK"
    r.send(b"QUIT\r\n")
    assert r.line().startswith(b"+OK")
    r.close()


def test_pipelined_commands(env):
    env.deliver(ALICE, MSG1, when=time.time() - 10)
    env.deliver(ALICE, MSG3)
    r = Raw(env)
    r.line()
    # Everything in one write, including the commands after PASS that the
    # login process reads before the session process takes over.
    r.send(f"CAPA\r\nUSER {ALICE}\r\nPASS {ALICE_PW}\r\nSTAT\r\nLIST\r\nUIDL 2\r\n"
           f"RETR 2\r\nDELE 1\r\nSTAT\r\nQUIT\r\n".encode())
    assert r.line().startswith(b"+OK")
    assert b"PIPELINING" in r.multiline()
    assert r.line().startswith(b"+OK")	# USER
    assert r.line().startswith(b"+OK Logged in")
    s1, s3 = len(wire(MSG1)), len(wire(MSG3))
    assert r.line() == f"+OK 2 {s1 + s3}".encode()
    assert r.line().startswith(b"+OK")
    assert r.multiline() == [f"1 {s1}".encode(), f"2 {s3}".encode()]
    assert r.line().startswith(b"+OK 2 ")
    assert r.line() == f"+OK {s3} octets".encode()
    assert b"".join(l + b"\r\n" for l in r.multiline()) == wire(MSG3)
    assert r.line().startswith(b"+OK")
    assert r.line() == f"+OK 1 {s3}".encode()
    assert r.line().startswith(b"+OK")
    assert r.closed()
    assert len(env.files(ALICE)) == 1


def test_garbage_disconnects_after_errors(tmp_parent):
    e = Pop3Env(tmp_parent, settings={"plaintext_auth_networks": "127.0.0.0/8, ::1", "max_errors": "3"})
    try:
        r = Raw(e)
        r.line()
        r.send(b"\x00\xff\xfe garbage\r\n\x01\x02\r\n\r\nmore junk\r\n")
        assert r.line().startswith(b"-ERR")
        assert r.line().startswith(b"-ERR")
        assert r.line().startswith(b"-ERR")
        assert r.line() == b"-ERR Too many errors, closing connection"
        assert r.closed()
        # The server is fine afterwards.
        p = login(e)
        p.quit()
    finally:
        e.stop()


def test_stalling_client_times_out(tmp_parent):
    e = Pop3Env(tmp_parent, settings={"plaintext_auth_networks": "127.0.0.0/8, ::1", "idle_timeout": "2s"})
    try:
        e.deliver(ALICE, MSG1)
        r = Raw(e)
        r.line()
        r.send(b"USER alice@exa")	# half a line, then nothing
        assert r.closed(timeout=15)
        # pop3s: half a TLS ClientHello, then nothing.
        r = Raw(e, "pop3s")
        r.send(b"\x16\x03\x01\x00\x50")
        assert r.closed(timeout=15) and r.buf == b""
        # Logged in and idle: autologout, nothing deleted (RFC 1939 3).
        r = Raw(e)
        r.line()
        r.send(f"USER {ALICE}\r\nPASS {ALICE_PW}\r\nDELE 1\r\n".encode())
        r.line(), r.line(), r.line()
        assert r.closed(timeout=15)
        assert wait_for(lambda: "end=idle timeout" in e.log_text())
        assert len(e.files(ALICE)) == 1
    finally:
        e.stop()


def test_uidl_stable_across_sessions_and_renames(env):
    env.deliver(ALICE, MSG1, when=time.time() - 10)
    env.deliver(ALICE, MSG2)
    p = login(env)
    first = p.uidl()[1]
    p.quit()
    # Another Maildir client (imapd) marks the first message seen: a rename.
    cur = os.path.join(env.maildir(ALICE), "cur")
    name = sorted(os.listdir(cur))[0]
    os.rename(os.path.join(cur, name), os.path.join(cur, name + "S"))
    p = login(env)
    assert p.uidl()[1] == first
    p.quit()


def test_message_renamed_during_session(env):
    env.deliver(ALICE, MSG1)
    p = login(env)
    cur = os.path.join(env.maildir(ALICE), "cur")
    name = os.listdir(cur)[0]
    os.rename(os.path.join(cur, name), os.path.join(cur, name + "RS"))
    resp, lines, _ = p.retr(1)
    assert b"".join(l + b"\r\n" for l in lines) == wire(MSG1)
    p.dele(1)
    p.quit()
    assert env.files(ALICE) == []


def test_message_without_size_fields(env):
    """A message put there by another Maildir tool: sizes are counted."""
    md = env.maildir(ALICE)
    path = os.path.join(md, "cur", "1700000000.foreign.host:2,S")
    with open(path, "wb") as f:
        f.write(b"Subject: x\r\n\r\nmixed\nendings\r\n")
    if IS_ROOT:
        import pwd
        pw = pwd.getpwnam("tern-vmail")
        os.chown(path, pw.pw_uid, pw.pw_gid)
    p = login(env)
    assert p.stat() == (1, len(b"Subject: x\r\n\r\nmixed\r\nendings\r\n"))
    assert p.uidl(1).split()[2] == b"1700000000.foreign.host"
    p.quit()


# ---------------------------------------------------------------- privileges

@pytest.mark.skipif(not IS_ROOT, reason="accounts and chroot need root")
def test_privilege_separation(env):
    import pwd
    login_pid = env.procs["login"].pid
    mail_pid = env.procs["mail"].pid

    def uid_of(pid):
        with open(f"/proc/{pid}/status") as f:
            for l in f:
                if l.startswith("Uid:"):
                    return int(l.split()[1])

    assert uid_of(login_pid) == pwd.getpwnam("tern-pop3d").pw_uid
    assert os.readlink(f"/proc/{login_pid}/root") == os.path.join(env.dir, "run")
    assert uid_of(mail_pid) == pwd.getpwnam("tern-vmail").pw_uid
    p = login(env)

    def children():
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == mail_pid:
                            out.append(int(d))
                except OSError:
                    pass
        return out
    kids = wait_for(children)
    assert kids and uid_of(kids[0]) == pwd.getpwnam("tern-vmail").pw_uid
    with open(f"/proc/{kids[0]}/status") as f:
        assert "NoNewPrivs:\t1" in f.read()
    p.quit()


# ---------------------------------------------------------------- fetchmail

def run_fetchmail(env, tmp, *extra, proto_port="pop3", tls="--sslproto", sslopts=()):
    home = os.path.join(tmp, "fmhome")
    os.makedirs(home, exist_ok=True)
    out = os.path.join(tmp, "fetched")
    os.makedirs(out, exist_ok=True)
    rc = os.path.join(home, ".fetchmailrc")
    with open(rc, "w") as f:
        f.write(f'poll 127.0.0.1 proto POP3 port {env.port(proto_port)} user "{ALICE}" '
                f'password "{ALICE_PW}"\n')
    os.chmod(rc, 0o600)
    mda = f"/bin/sh -c 'cat > {out}/msg.$$'"
    cmd = ["fetchmail", "-f", rc, "--nodetach", "--nosyslog", "--idfile", os.path.join(home, "ids"),
           "--mda", mda, "--sslcertck", "--sslcertfile", env.cert(), "--sslcommonname",
           env.hostname, *sslopts, *extra]
    e = dict(os.environ, HOME=home, FETCHMAILHOME=home)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=e)
    files = sorted(os.listdir(out))
    bodies = []
    for fn in files:
        with open(os.path.join(out, fn), "rb") as f:
            bodies.append(f.read())
        os.unlink(os.path.join(out, fn))
    return p, bodies


def test_fetchmail_keep_uidl_then_delete(tmp_parent):
    """fetchmail over STLS and pop3s (certificate checked) on mail delivered over SMTP."""
    env = Pop3Env(tmp_parent)
    try:
        env.start_delivery()
        for m in SMTP_MSGS[:2]:
            env.smtp_deliver(ALICE, m)
        tls12 = ("--sslproto", "tls1.2+")
        p, bodies = run_fetchmail(env, tmp_parent, "--keep", "--uidl", sslopts=tls12)
        assert p.returncode == 0, p.stderr + p.stdout
        assert len(bodies) == 2
        assert any(b"Subject: smtp one" in b for b in bodies)
        assert len(env.files(ALICE)) == 2
        # UIDL tracking: nothing new the second time (exit 1: no mail).
        p, bodies = run_fetchmail(env, tmp_parent, "--keep", "--uidl", sslopts=tls12)
        assert p.returncode == 1 and bodies == [], p.stderr + p.stdout
        env.smtp_deliver(ALICE, SMTP_MSGS[2])
        p, bodies = run_fetchmail(env, tmp_parent, "--keep", "--uidl", sslopts=tls12)
        assert p.returncode == 0 and len(bodies) == 1 and b"Subject: smtp three" in bodies[0]
        # Fetch all and delete, over pop3s.
        p, bodies = run_fetchmail(env, tmp_parent, "--all", proto_port="pop3s", sslopts=("--ssl",))
        assert p.returncode == 0, p.stderr + p.stdout
        assert len(bodies) == 3
        assert env.files(ALICE) == []
    finally:
        env.stop()


# ---------------------------------------------------------------- hand-off channel

def handoff(env, user, token, fd_sock, pending=b"", flags=0):
    """Talk to RUN/pop3-mail.sock as the login role would (common/login_handoff.h:
    user, token, tag, client, flags, pending); returns the status."""
    import struct
    from pop3env import ipc_frame, ipc_fields, T_STR, T_U32, T_BYTES
    frame = bytearray(ipc_frame(300, 7, [(T_STR, user), (T_STR, token), (T_STR, ""),
                                         (T_STR, "192.0.2.1"), (T_U32, flags), (T_BYTES, pending)]))
    frame[7] = 1	# IPC_F_FD
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(os.path.join(env.dir, "run", "pop3-mail.sock"))
    socket.send_fds(s, [bytes(frame)], [fd_sock.fileno()])
    data = b""
    while len(data) < 12 or len(data) < 12 + struct.unpack(">I", data[:4])[0]:
        d = s.recv(4096)
        if not d:
            break
        data += d
    s.close()
    n, mtype = struct.unpack(">IH", data[:6])
    assert mtype == 301
    return struct.unpack(">I", ipc_fields(data[12:12 + n])[0])[0]


@pytest.mark.skipif(not IS_ROOT, reason="the hand-off socket belongs to tern-pop3d")
def test_handoff_needs_a_valid_token(env):
    from pop3env import make_token
    env.deliver(ALICE, MSG1)
    now = int(time.time())
    a, b = socket.socketpair()
    forged = make_token(os.urandom(32), "pop3", ALICE, now + 60)
    assert handoff(env, ALICE, forged, b) == 2
    other_user = make_token(env.secret, "pop3", BOB, now + 60)
    assert handoff(env, ALICE, other_user, b) == 2
    other_service = make_token(env.secret, "imap", ALICE, now + 60)
    assert handoff(env, ALICE, other_service, b) == 2
    expired = make_token(env.secret, "pop3", ALICE, now - 5)
    assert handoff(env, ALICE, expired, b) == 2
    evil = make_token(env.secret, "pop3", "../x@example.test", now + 60)
    assert handoff(env, "../x@example.test", evil, b) == 2
    assert env.log_text().count("invalid token refused") == 4
    # A flag bit the mail role does not know is refused before the token is looked at.
    good = make_token(env.secret, "pop3", ALICE, now + 60)
    assert handoff(env, ALICE, good, b, flags=2) == 2
    assert "malformed hand-off refused (unknown flag bits" in env.log_text()
    # A valid token opens the session on the socket passed along, and the
    # pipelined input travels with it.
    good = make_token(env.secret, "pop3", ALICE, now + 60)
    assert handoff(env, ALICE, good, b, pending=b"STAT\r\n") == 0
    b.close()
    a.settimeout(10)
    f = a.makefile("rwb")
    assert f.readline().startswith(b"+OK Logged in, 1 messages")
    assert f.readline() == f"+OK 1 {len(wire(MSG1))}\r\n".encode()
    f.write(b"QUIT\r\n")
    f.flush()
    assert f.readline().startswith(b"+OK")
    a.close()


def test_mail_role_down_is_temporary(tmp_parent):
    e = Pop3Env(tmp_parent, settings={"plaintext_auth_networks": "127.0.0.0/8, ::1"}, start_mail=False)
    try:
        p = poplib.POP3(e.HOST, e.port("pop3"), timeout=10)
        p.user(ALICE)
        with pytest.raises(poplib.error_proto) as err:
            p.pass_(ALICE_PW)
        assert err.value.args[0].startswith(b"-ERR [SYS/TEMP]")
        e.start_role("mail")
        p.user(ALICE)
        p.pass_(ALICE_PW)
        p.quit()
    finally:
        e.stop()


def test_auth_service_down_is_temporary(env):
    env.stop_role("auth")
    p = poplib.POP3(env.HOST, env.port("pop3"), timeout=10)
    p.user(ALICE)
    with pytest.raises(poplib.error_proto) as err:
        p.pass_(ALICE_PW)
    assert err.value.args[0].startswith(b"-ERR [SYS/TEMP]")
    p.quit()


def test_login_delay_and_expire_announced(tmp_parent):
    e = Pop3Env(tmp_parent, settings={"plaintext_auth_networks": "127.0.0.0/8, ::1", "login_delay": "1h",
                                      "expire": "never"})
    try:
        p = poplib.POP3(e.HOST, e.port("pop3"), timeout=10)
        caps = p.capa()
        assert caps["LOGIN-DELAY"] == ["3600"] and caps["EXPIRE"] == ["NEVER"]
        p.user(ALICE)
        p.pass_(ALICE_PW)
        p.quit()
        p = poplib.POP3(e.HOST, e.port("pop3"), timeout=10)
        p.user(ALICE)
        with pytest.raises(poplib.error_proto) as err:
            p.pass_(ALICE_PW)
        assert err.value.args[0].startswith(b"-ERR [LOGIN-DELAY]")
    finally:
        e.stop()


def test_connections_per_address_limited(tmp_parent):
    e = Pop3Env(tmp_parent, settings={"plaintext_auth_networks": "127.0.0.0/8, ::1", "max_sessions_per_ip": "2"})
    try:
        r1, r2 = Raw(e), Raw(e)
        assert r1.line().startswith(b"+OK") and r2.line().startswith(b"+OK")
        r3 = Raw(e)
        assert r3.line().startswith(b"-ERR [SYS/TEMP]")
        assert r3.closed()
        r1.close()
        assert wait_for(lambda: "end=disconnect" in e.log_text())
        r4 = Raw(e)
        assert r4.line().startswith(b"+OK")
        r2.close(), r4.close()
    finally:
        e.stop()


# ---------------------------------------------------------------- real deliveries



def test_messages_delivered_over_smtp(tmp_parent):
    """smtpd -> queued -> deliverd writes the Maildir; POP3 serves it byte-exact."""
    e = Pop3Env(tmp_parent, settings={"plaintext_auth_networks": "127.0.0.0/8, ::1"})
    try:
        e.start_delivery()
        names = [e.smtp_deliver(ALICE, m) for m in SMTP_MSGS]
        stored = []
        for n in names:
            with open(os.path.join(e.maildir(ALICE), "new", n), "rb") as f:
                stored.append(f.read())
        for data, sent in zip(stored, SMTP_MSGS):
            assert b"\r\n" not in data			# deliverd stores LF endings
            assert sent.replace(b"\r\n", b"\n") in data	# below our trace headers
        p = login(e)
        want = [d.replace(b"\n", b"\r\n") for d in stored]
        cur = os.path.join(e.maildir(ALICE), "cur")
        order = sorted(range(3), key=lambda i: (os.stat(os.path.join(cur, names[i] + ":2,")).st_mtime_ns,
                                                names[i]))
        assert p.stat() == (3, sum(len(w) for w in want))
        assert p.list()[1] == [f"{k + 1} {len(want[i])}".encode() for k, i in enumerate(order)]
        assert p.uidl()[1] == [f"{k + 1} {names[i]}".encode() for k, i in enumerate(order)]
        for k, i in enumerate(order):
            resp, lines, _ = p.retr(k + 1)
            assert b"".join(l + b"\r\n" for l in lines) == want[i]
        p.dele(1)
        p.quit()
        assert len(e.files(ALICE)) == 2
    finally:
        e.stop()


def test_message_expunged_by_another_client(env):
    env.deliver(ALICE, MSG1, when=time.time() - 10)
    env.deliver(ALICE, MSG2)
    p = login(env)
    cur = os.path.join(env.maildir(ALICE), "cur")
    os.unlink(os.path.join(cur, sorted(os.listdir(cur), key=lambda n: os.stat(os.path.join(cur, n)).st_mtime)[0]))
    with pytest.raises(poplib.error_proto) as e:
        p.retr(1)
    assert b"removed by another client" in e.value.args[0]
    resp, lines, _ = p.retr(2)
    assert b"".join(l + b"\r\n" for l in lines) == wire(MSG2)
    p.dele(1)	# already gone: the QUIT still succeeds
    assert p.quit().startswith(b"+OK")
    assert len(env.files(ALICE)) == 1


def test_reload_keeps_running_sessions(env):
    """SIGHUP (mailctl reload): no new sessions, the running ones finish."""
    import signal
    env.deliver(ALICE, MSG1)
    p = poplib.POP3_SSL(env.HOST, env.port("pop3s"), context=tls_context(env), timeout=10)
    p.user(ALICE)
    p.pass_(ALICE_PW)	# relayed by the login process, served by a session process
    for role in ("login", "mail"):
        env.procs[role].send_signal(signal.SIGHUP)
    assert wait_for(lambda: env.log_text().count("reload:") == 2)
    resp, lines, _ = p.retr(1)
    assert b"".join(l + b"\r\n" for l in lines) == wire(MSG1)
    p.dele(1)
    p.quit()
    assert env.files(ALICE) == []
    for role in ("login", "mail"):
        env.procs[role].wait(timeout=10)
        assert env.procs[role].returncode == 0


def test_imap_and_pop3_share_the_mailbox(env):
    """imapd flags and expunges in the same Maildir: POP3 UIDLs do not change,
    and an open IMAP session does not lock POP3 out."""
    import imaplib
    env.start_imap()
    for i, m in enumerate((MSG1, MSG2, MSG3)):
        env.deliver(ALICE, m, when=time.time() - 30 + i)
    p = login(env)
    before = dict(l.split()[::-1] for l in p.uidl()[1])	# uidl -> number
    subjects = {}
    for uid, num in before.items():
        hdr = b"\n".join(p.top(int(num), 0)[1])
        subjects[uid] = [l for l in hdr.split(b"\n") if l.startswith(b"Subject:")][0]
    p.quit()
    im = imaplib.IMAP4(env.HOST, env.port("imap"), timeout=10)
    im.login(ALICE, ALICE_PW)
    im.select("INBOX")
    one = im.search(None, "SUBJECT", "one")[1][0].split()
    two = im.search(None, "SUBJECT", "two")[1][0].split()
    assert len(one) == 1 and len(two) == 1
    im.store(one[0], "+FLAGS", "\\Seen")
    im.store(two[0], "+FLAGS", "\\Deleted")
    im.expunge()
    # IMAP session still open: POP3 is not refused, sees the change, same UIDLs.
    p = login(env)
    after = [l.split()[1] for l in p.uidl()[1]]
    assert sorted(after) == sorted(u for u, s in subjects.items() if s != b"Subject: two")
    for k, uid in enumerate(after):
        assert subjects[uid] in b"\n".join(p.top(k + 1, 0)[1])
    p.quit()
    im.logout()
    assert any(n.endswith(":2,S") for n in env.files(ALICE))	# imapd's rename happened


# ---------------------------------------------------------------- whole instance

def master_available():
    from conftest import mailctl
    p = mailctl("start", "--help", check=False)
    return p.returncode == 0 and "not available" not in p.stderr


@pytest.mark.skipif(not master_available(), reason="needs `mailctl start` (the master)")
def test_instance_started_by_the_master(instance):
    """`mailctl init` + `start`: mail sent over SMTP is fetched over pop3s with
    the instance's certificate; both pop3d processes run as their accounts."""
    import smtplib
    instance.add_user("carol@example.test", "Carol-pw-1")
    with smtplib.SMTP("127.0.0.1", instance.port("smtp"), timeout=30) as c:
        c.sendmail("x@remote.test", ["carol@example.test"], SMTP_MSGS[0])
    new = os.path.join(instance.maildir("carol@example.test"), "new")
    assert wait_for(lambda: os.listdir(new), 30), instance.log_text()[-3000:]
    ctx = ssl.create_default_context(cafile=instance.cert())
    ctx.check_hostname = False
    p = poplib.POP3_SSL("127.0.0.1", instance.port("pop3s"), context=ctx, timeout=10)
    p.user("carol@example.test")
    p.pass_("Carol-pw-1")
    resp, lines, _ = p.retr(1)
    assert b"Subject: smtp one" in lines and b"..leading dot" not in lines
    assert b".leading dot" in lines
    p.dele(1)
    p.quit()
    assert wait_for(lambda: not os.listdir(os.path.join(instance.maildir("carol@example.test"), "cur")))
    status = instance.ctl("status").stdout.splitlines()
    rows = {l.split()[0]: l.split() for l in status if l.split()}
    assert rows["pop3d"][3] == "running" and rows["pop3d-mail"][3] == "running"
    if IS_ROOT:
        assert rows["pop3d"][2] == "tern-pop3d" and rows["pop3d-mail"][2] == "tern-vmail"


def test_pipelined_over_tls(tls_env):
    """Commands after PASS read by the login process reach the session process
    through the TLS relay, in order."""
    tls_env.deliver(ALICE, MSG3)
    raw = socket.create_connection((tls_env.HOST, tls_env.port("pop3s")), timeout=10)
    t = tls_context(tls_env).wrap_socket(raw, server_hostname="mx.example.test")
    f = t.makefile("rb")
    assert f.readline().startswith(b"+OK")
    t.sendall(f"USER {ALICE}\r\nPASS {ALICE_PW}\r\nSTAT\r\nUIDL\r\nRETR 1\r\nQUIT\r\n".encode())
    out = b""
    while True:
        d = f.read1(65536)
        if not d:
            break
        out += d
    lines = out.split(b"\r\n")
    assert lines[0] == b"+OK" and lines[1].startswith(b"+OK Logged in")
    assert lines[2] == f"+OK 1 {len(wire(MSG3))}".encode()
    assert out.endswith(wire(MSG3) + b".\r\n+OK Logging out, 0 messages deleted\r\n")
    t.close()


def test_max_messages_oldest_first(tmp_parent):
    e = Pop3Env(tmp_parent, settings={"plaintext_auth_networks": "127.0.0.0/8, ::1", "max_messages": "2"})
    try:
        for i, m in enumerate((MSG1, MSG2, MSG3)):
            e.deliver(ALICE, m, when=time.time() - 30 + i)
        p = login(e)
        assert p.stat()[0] == 2
        assert b"Subject: one" in p.top(1, 0)[1] and b"Subject: two" in p.top(2, 0)[1]
        p.dele(1), p.dele(2)
        p.quit()
        p = login(e)
        assert p.stat() == (1, len(wire(MSG3)))
        p.quit()
    finally:
        e.stop()


def _instance_login(instance, user, pw):
    ctx = ssl.create_default_context(cafile=instance.cert())
    ctx.check_hostname = False
    p = poplib.POP3_SSL("127.0.0.1", instance.port("pop3s"), context=ctx, timeout=10)
    p.user(user)
    p.pass_(pw)
    return p


@pytest.mark.skipif(not master_available(), reason="needs `mailctl start` (the master)")
def test_instance_reload_and_restart(instance):
    """`mailctl reload` keeps a running session; a killed mail role is restarted."""
    import signal
    for u in ("dave@example.test", "erin@example.test"):
        instance.add_user(u, "Pw-" + u)
    md = instance.maildir("dave@example.test")
    with open(os.path.join(md, "new", "1700000000.x.host,S=17,W=19"), "wb") as f:
        f.write(b"Subject: r\n\nbody\n")
    if IS_ROOT:
        import pwd
        vm = pwd.getpwnam("tern-vmail")
        os.chown(os.path.join(md, "new", "1700000000.x.host,S=17,W=19"), vm.pw_uid, vm.pw_gid)
    old = _instance_login(instance, "dave@example.test", "Pw-dave@example.test")
    instance.ctl("reload")
    # The new generation serves new logins; the old session goes on.
    p = _instance_login(instance, "erin@example.test", "Pw-erin@example.test")
    p.quit()
    assert old.stat() == (1, 19)
    assert old.retr(1)[1] == [b"Subject: r", b"", b"body"]
    old.dele(1)
    old.quit()
    assert not os.listdir(os.path.join(md, "cur"))

    def pids(name):
        return [int(l.split()[1]) for l in instance.ctl("status").stdout.splitlines()
                if l.split() and l.split()[0] == name and l.split()[3] == "running"]
    assert wait_for(lambda: len(pids("pop3d-mail")) == 1, 20)	# the old generation is gone
    os.kill(pids("pop3d-mail")[0], signal.SIGKILL)
    def login_works():
        try:
            _instance_login(instance, "erin@example.test", "Pw-erin@example.test").quit()
            return True
        except (poplib.error_proto, OSError):
            return False
    assert wait_for(login_works, 30)


def test_out_of_file_descriptors_pauses_then_recovers(tmp_parent):
    """accept() failing with EMFILE: the login process pauses accepting, keeps
    serving its sessions, and accepts again once descriptors are free."""
    e = Pop3Env(tmp_parent, settings={"plaintext_auth_networks": "127.0.0.0/8, ::1", "max_sessions_per_ip": "1000"},
                nofile=48)
    conns = []
    try:
        assert "needs 2064 file descriptors, the limit is 48" in e.log_text()
        for _ in range(60):
            conns.append(socket.create_connection((e.HOST, e.port("pop3")), timeout=10))
        assert wait_for(lambda: "pausing until descriptors free up" in e.log_text())
        first = conns[0].makefile("rb")
        assert first.readline().startswith(b"+OK")	# accepted sessions are served
        conns[0].sendall(b"CAPA\r\n")
        assert first.readline().startswith(b"+OK")
        for c in conns:
            c.close()
        conns = []
        def login_ok():
            try:
                login(e).quit()
                return True
            except (OSError, poplib.error_proto):
                return False
        assert wait_for(login_ok, 20)
    finally:
        for c in conns:
            c.close()
        e.stop()


def test_expire_zero_removes_retrieved_at_quit(tmp_parent):
    e = Pop3Env(tmp_parent, settings={"plaintext_auth_networks": "127.0.0.0/8, ::1", "expire": "0"})
    try:
        e.deliver(ALICE, MSG1, when=time.time() - 10)
        e.deliver(ALICE, MSG2)
        p = login(e)
        assert p.capa()["EXPIRE"] == ["0"]
        p.retr(1)
        p.top(2, 1)		# TOP is not a retrieval
        p.rset()
        # Dropped: nothing goes.
        p.sock.shutdown(socket.SHUT_RDWR)
        p.close()
        assert wait_for(lambda: "end=disconnect" in e.log_text())
        assert len(e.files(ALICE)) == 2
        p = login(e)
        p.retr(1)
        assert p.quit() == b"+OK Logging out, 1 messages deleted"
        p = login(e)
        assert p.stat() == (1, len(wire(MSG2)))
        p.quit()
    finally:
        e.stop()


# ------------------------------------------------- a client that vanishes

def _session(env, mode):
    """A logged-in poplib session over plain TCP, STLS or POP3S."""
    if mode == "pop3s":
        p = poplib.POP3_SSL(env.HOST, env.port("pop3s"), context=tls_context(env), timeout=10)
    else:
        p = poplib.POP3(env.HOST, env.port("pop3"), timeout=10)
        if mode == "stls":
            p.stls(tls_context(env))
    p.user(ALICE)
    p.pass_(ALICE_PW)
    return p


@pytest.mark.parametrize("mode", ["plain", "stls", "pop3s"])
@pytest.mark.parametrize("how", ["close", "reset", "close-in-retr"])
def test_dropped_connection_releases_the_mailbox_at_once(env, mode, how):
    """A client gone without QUIT (its socket closed, or reset; idle or in the
    middle of a RETR) ends the session at once: the lock is free within a
    second (timed on the lock itself, not on a login, which the machine's load
    may slow), a new login gets the mailbox, and the message the dropped
    session marked deleted is still there (no UPDATE state)."""
    import struct
    env.deliver(ALICE, MSG1)
    env.deliver(ALICE, "Subject: big\n\n" + ("x" * 990 + "\n") * 8000)
    p = _session(env, mode)
    assert p.stat()[0] == 2
    p.dele(1)
    raw_sock = p.sock
    if how == "close-in-retr":
        p._putcmd("RETR 2")      # and never read the answer
        time.sleep(0.2)
    if how == "reset":
        raw_sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    os.close(raw_sock.detach())  # the descriptor itself: no QUIT, no TLS close_notify
    start = time.monotonic()
    assert wait_for(lambda: pop3_lock_free(env.maildir(ALICE)), 5, 0.01)
    took = time.monotonic() - start
    assert took < 1.0, f"mailbox released after {took:.2f}s"
    again = _session(env, mode)
    assert again.stat()[0] == 2
    again.quit()
    assert len(env.files(ALICE)) == 2
