"""Encryption at rest (issue 14, PRODUCT.md 6): `mailctl user key`, local
delivery sealed to the user's S/MIME certificate (made with `openssl req`) or
OpenPGP key (made with `gpg --quick-gen-key`), opened again with `openssl cms
-decrypt` and `gpg --decrypt`; nothing of the content left anywhere under
mail_dir or spool_dir; IMAP and POP3 serve the stored message; the failure
policy (defer / deliver_clear); bad keys refused."""
import datetime
import email.policy
import imaplib
import os
import poplib
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
import uuid
from email.message import EmailMessage

import pytest

from conftest import Instance, wait_for
from imap_harness import ImapInstance, Mailbox, RawImap, tls_ctx

KEYFILE = "tern-pubkey"


@pytest.fixture(scope="module")
def srv():
    s = ImapInstance()
    yield s
    s.close()


@pytest.fixture(scope="module")
def keydir():
    d = tempfile.mkdtemp(prefix="tern-keys-")
    gnupg = os.path.join(d, "gnupg")
    os.mkdir(gnupg, 0o700)
    yield d
    # gpg started an agent for this home: end it (and only it)
    subprocess.run(["gpgconf", "--homedir", gnupg, "--kill", "all"], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


def run(*args, input=None, env=None, check=True):
    p = subprocess.run(args, input=input, capture_output=True, env=env, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"{args[0]} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p


def smime_cert(keydir, addr, *extra):
    """A certificate for addr made with `openssl req` (as TESTING.md says)."""
    base = os.path.join(keydir, uuid.uuid4().hex)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout", base + ".key", "-out",
        base + ".pem", "-nodes", "-days", "30", "-subj", f"/emailAddress={addr}",
        *(extra or ("-addext", "extendedKeyUsage=emailProtection")))
    return base + ".pem", base + ".key"


def gpg_env(keydir):
    return dict(os.environ, GNUPGHOME=os.path.join(keydir, "gnupg"))


def pgp_key(keydir, addr):
    """An OpenPGP key made with `gpg --batch --quick-gen-key`; its armoured public part."""
    env = gpg_env(keydir)
    run("gpg", "--batch", "--passphrase", "", "--quick-gen-key", addr, "default", "default", env=env)
    path = os.path.join(keydir, uuid.uuid4().hex + ".asc")
    with open(path, "wb") as f:
        f.write(run("gpg", "--export", "--armor", f"<{addr}>", env=env).stdout)
    return path


def import_key(srv, addr, path, *extra, check=True):
    return srv.ctl("user", "key", addr, "import", path, *extra, check=check)


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def messages(token):
    """(name, bytes) of the kinds the issue lists, each carrying token in its
    body and in its subject."""
    plain = crlf(f"From: Ann <ann@remote.test>\nTo: someone@example.test\n"
                 f"Subject: plain {token}-subject\nMessage-ID: <p.{uuid.uuid4().hex}@remote.test>\n"
                 f"Date: Mon, 01 Jan 2024 10:00:00 +0000\n\nhello {token}-body\n.leading dot\n")
    m = EmailMessage(policy=email.policy.SMTP)
    m["From"], m["To"], m["Subject"] = "ann@remote.test", "x@example.test", f"att {token}-subject"
    m.set_content(f"see attached {token}-body\n")
    m.add_attachment(os.urandom(3000) + f"{token}-attachment".encode(), maintype="application",
                     subtype="octet-stream", filename="blob.bin")
    eight = ("From: ann@remote.test\nTo: x@example.test\nSubject: 8bit "
             f"{token}-subject\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
             f"Content-Transfer-Encoding: 8bit\n\nd\u00e9j\u00e0 vu {token}-body \u2713\n")
    eight = eight.replace("\n", "\r\n").encode("utf-8")
    line = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+/=-_.,\r\n"
    large = crlf(f"From: ann@remote.test\nTo: x@example.test\nSubject: large {token}-subject\n\n") + \
        (line * (3 * 1024 * 1024 // len(line))).encode() + f"end {token}-body\r\n".encode()
    return [("plain", plain), ("attachment", m.as_bytes()), ("8bit", eight), ("large", large)]


def send(srv, rcpt, msg):
    with smtplib.SMTP("127.0.0.1", srv.inst.port("smtp"), timeout=60) as s:
        s.sendmail("ann@remote.test", [rcpt], msg, mail_options=["BODY=8BITMIME"])


def wait_new(srv, user, count):
    new = os.path.join(srv.maildir(user), "new")
    assert wait_for(lambda: len(os.listdir(new)) >= count, 30), srv.log_text()[-3000:]
    return sorted((os.path.join(new, n) for n in os.listdir(new)), key=os.path.getmtime)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def unprotect(inner):
    """The decrypted entity without what header protection added (RFC 9788:
    HP-Outer fields, hp="cipher" on the Content-Type, or a marked default
    Content-Type when there was none): what smtpd queued, byte for byte."""
    head, sep, body = inner.partition(b"\r\n\r\n")
    assert b"HP-Outer: " in head and b'; hp="cipher"' in head, head
    head = re.sub(rb"HP-Outer: [^\r]*\r\n(?:[ \t][^\r]*\r\n)*", b"", head + b"\r\n")[:-2]
    added = b'\r\nContent-Type: text/plain; charset=us-ascii; hp="cipher"'
    if head.endswith(added):  # the message had no Content-Type: its default, marked
        return head[:-len(added)] + sep + body
    return head.replace(b'; hp="cipher"', b"", 1) + sep + body


def strip_our_received(queued):
    """The message as sent: the queued one without the Received field our
    smtpd wrote first (the trace header the issue sets aside)."""
    assert queued.startswith(b"Received: "), queued[:80]
    m = re.match(rb"Received: [^\r]*\r\n(?:[ \t][^\r]*\r\n)*", queued)
    return queued[m.end():]


def check_outer(stored, kind):
    head = stored.split(b"\n\n", 1)[0]
    assert b"\nSubject: [...]\n" in head
    if kind == "smime":
        assert b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data" in head
    else:
        assert b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"' in head
    assert b"\r" not in stored  # stored with LF line ends, like every Maildir file of deliverd


def everything_under(*dirs):
    for d in dirs:
        for root, _, files in os.walk(d):
            for f in files:
                p = os.path.join(root, f)
                if os.path.isfile(p) and not os.path.islink(p):
                    yield p, read(p)


def assert_nowhere(srv, token):
    """The token (in bodies, subjects, attachments) appears in no file under
    mail_dir or spool_dir: Maildirs, tmp/, folder indexes and their cached
    fields, queue files and the queue's Berkeley DB environment."""
    hits = [p for p, data in everything_under(os.path.join(srv.dir, "mail"),
                                              os.path.join(srv.dir, "spool"))
            if token.encode() in data]
    assert not hits, hits


def imap_read_all(srv, user, pw):
    """A session that builds the index, FETCHes every cached field and
    searches for the token: what a client does to a mailbox."""
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=tls_ctx(srv.cert()), timeout=30)
    try:
        c.login(user, pw)
        c.select("INBOX")
        typ, data = c.fetch("1:*", "(ENVELOPE BODYSTRUCTURE BODY.PEEK[] RFC822.SIZE)")
        assert typ == "OK"
        return c, data
    except BaseException:
        c.logout()
        raise


def deliver_and_open(srv, user, pw, kind, decrypt):
    """Each kind of message, delivered over SMTP and opened with the user's
    private key by the reference tool: the message as queued comes back; then
    a client reads the mailbox, and the token is nowhere on disk."""
    token = "tok" + uuid.uuid4().hex
    for i, (name, m) in enumerate(messages(token)):
        send(srv, user, m)
        path = wait_new(srv, user, i + 1)[-1]
        check_outer(read(path), kind)
        assert strip_our_received(unprotect(decrypt(path))) == m, name
    c, data = imap_read_all(srv, user, pw)
    c.logout()
    assert_nowhere(srv, token)


def test_smime_deliveries_open_with_openssl(srv, keydir):
    user, pw = srv.new_user()
    cert, key = smime_cert(keydir, user)
    r = import_key(srv, user, cert)
    assert "type: smime" in r.stdout and "lost" in r.stderr  # key loss said plainly
    deliver_and_open(srv, user, pw, "smime", lambda path: run(
        "openssl", "cms", "-decrypt", "-in", path, "-recip", cert, "-inkey", key).stdout)


def test_pgp_deliveries_open_with_gpg(srv, keydir):
    user, pw = srv.new_user()
    r = import_key(srv, user, pgp_key(keydir, user))
    assert "type: openpgp" in r.stdout
    deliver_and_open(srv, user, pw, "pgp", lambda path: run(
        "gpg", "--batch", "--decrypt", path, env=gpg_env(keydir)).stdout)


def test_imap_and_pop3_serve_the_stored_message(srv, keydir):
    user, pw = srv.new_user()
    import_key(srv, user, smime_cert(keydir, user)[0])
    token = "tok" + uuid.uuid4().hex
    send(srv, user, messages(token)[0][1])
    [path] = wait_new(srv, user, 1)
    stored = read(path).replace(b"\n", b"\r\n")
    c, data = imap_read_all(srv, user, pw)
    try:
        fetched = data[0][1]
        assert fetched == stored
        meta = data[0][0].decode()
        assert '"[...]"' in meta and '"ann" "remote.test"' in meta and token not in meta
        assert '"application" "pkcs7-mime"' in meta.lower()
        for key in ("SUBJECT", "BODY", "TEXT"):
            typ, found = c.search(None, key, f"{token}-subject" if key == "SUBJECT" else f"{token}-body")
            assert typ == "OK" and found == [b""], (key, found)
        typ, found = c.search(None, "FROM", "ann@remote.test")
        assert found == [b"1"]
    finally:
        c.logout()
    p = poplib.POP3_SSL("127.0.0.1", srv.inst.port("pop3s"), context=tls_ctx(srv.cert()), timeout=30)
    try:
        p.user(user)
        p.pass_(pw)
        lines = p.retr(1)[1]
        assert b"\r\n".join(lines) + b"\r\n" == stored
    finally:
        p.quit()
    assert_nowhere(srv, token)


def test_already_encrypted_mail_is_stored_as_it_came(srv, keydir):
    user, _ = srv.new_user()
    cert, _ = smime_cert(keydir, user)
    import_key(srv, user, cert)
    env = gpg_env(keydir)
    pgp_user, _ = srv.new_user()
    import_key(srv, pgp_user, pgp_key(keydir, pgp_user))
    body = b"Content-Type: text/plain\r\n\r\nalready secret\r\n"
    p7 = run("openssl", "cms", "-encrypt", "-aes256", cert, input=body).stdout
    smime = crlf("From: ann@remote.test\nTo: x@example.test\nSubject: enc\n") + \
        p7.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    armour = run("gpg", "--batch", "--trust-model", "always", "--encrypt", "--armor", "-r", pgp_user,
                 input=body, env=env).stdout.decode()
    pgpmime = crlf("From: ann@remote.test\nTo: x@example.test\nSubject: enc\nMIME-Version: 1.0\n"
                   'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; '
                   'boundary="b1"\n\n--b1\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n'
                   "--b1\nContent-Type: application/octet-stream\n\n" + armour + "\n--b1--\n")
    for who, m in ((user, smime), (pgp_user, pgpmime)):
        send(srv, who, m)
        [path] = wait_new(srv, who, 1)
        stored = read(path)
        assert stored.replace(b"\n", b"\r\n").endswith(m)
        assert stored.count(b"Content-Type: ") == m.count(b"Content-Type: ")


def test_user_without_key_is_unaffected(srv):
    user, _ = srv.new_user()
    token = "tok" + uuid.uuid4().hex
    m = messages(token)[0][1]
    send(srv, user, m)
    [path] = wait_new(srv, user, 1)
    assert read(path).replace(b"\n", b"\r\n").endswith(m)


def lit(data):
    """A non-synchronising literal (LITERAL+)."""
    return b"{%d+}\r\n" % len(data) + data


def files_under(d):
    return [os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs]


def test_append_is_sealed_and_never_clear_in_tmp(srv, keydir):
    box = Mailbox(srv)
    cert, key = smime_cert(keydir, box.user)
    import_key(srv, box.user, cert)
    token = "tok" + uuid.uuid4().hex
    msg = crlf(f"From: {box.user}\nTo: bob@remote.test\nSubject: sent {token}-subject\n"
               f"Date: Mon, 01 Jan 2024 10:00:00 +0000\n\n") + b"x" * 200000 + \
        f"\r\n{token}-body\r\n".encode()
    c = RawImap(box)
    c.n += 1
    tag = b"t%d" % c.n
    c.send(tag + b" APPEND Sent {%d}\r\n" % len(msg))
    assert c.line().startswith(b"+")
    half = len(msg) // 2
    c.send(msg[:half])
    time.sleep(0.5)  # the session has taken the first half in by now
    hits = [p for p in files_under(srv.maildir(box.user)) if token.encode() in read(p)]
    assert hits == []  # the literal so far is in memory, not in tmp/
    c.send(msg[half:] + b"\r\n")
    assert c.until_tag(tag)[-1].startswith(tag + b" OK [APPENDUID")
    # CATENATE composes from TEXT parts (held in memory too) before sealing
    head = crlf(f"From: {box.user}\nSubject: cat {token}-subject\n\n")
    body = f"catenated {token}-body\r\n".encode()
    lines = c.cmd(b"APPEND Sent CATENATE (TEXT " + lit(head) + b" TEXT " + lit(body) + b")")
    assert lines[-1].startswith(c.tag + b" OK [APPENDUID"), lines
    c.close()
    cur = os.path.join(srv.maildir(box.user, "Sent"), "cur")
    opened = []
    for n in os.listdir(cur):
        check_outer(read(os.path.join(cur, n)), "smime")
        opened.append(unprotect(run("openssl", "cms", "-decrypt", "-in", os.path.join(cur, n),
                                    "-recip", cert, "-inkey", key).stdout))
    assert sorted(opened) == sorted([msg, head + body])
    assert_nowhere(srv, token)


def short_lived_cert(keydir, addr, seconds):
    """A certificate that expires seconds from now (openssl req cannot set that)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.EMAIL_ADDRESS, addr)])
    now = datetime.datetime.now(datetime.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=1))
         .not_valid_after(now + datetime.timedelta(seconds=seconds))
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
         .sign(k, hashes.SHA256()))
    path = os.path.join(keydir, uuid.uuid4().hex + ".pem")
    with open(path, "wb") as f:
        f.write(c.public_bytes(serialization.Encoding.PEM))
    return path, time.time() + seconds


def sleep_past(expiry):
    """Until the certificate has expired (whole seconds: ASN.1 times have no fraction)."""
    time.sleep(max(0.0, expiry - time.time()) + 1.5)


def test_expired_key_defers_until_a_new_key(srv, keydir):
    user, pw = srv.new_user()
    cert, expiry = short_lived_cert(keydir, user, 8)  # the import must come before it expires
    r = import_key(srv, user, cert)
    assert "expires" in r.stderr  # warned: soon
    sleep_past(expiry)
    assert "expired" in srv.ctl("user", "key", user, "show").stdout
    token = "tok" + uuid.uuid4().hex
    m = messages(token)[0][1]
    send(srv, user, m)
    assert wait_for(lambda: re.search(rf"to=<{user}>.*status=deferred.*expired", srv.log_text()), 15)
    assert srv.ctl("queue", "list").stdout.strip() != ""
    assert os.listdir(os.path.join(srv.maildir(user), "new")) == []
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=tls_ctx(srv.cert()), timeout=30)
    c.login(user, pw)
    typ, data = c.append("INBOX", None, None, m)
    c.logout()
    assert typ == "NO" and b"[UNAVAILABLE]" in data[0], data  # encrypt_failure = defer
    cert, key = smime_cert(keydir, user)
    import_key(srv, user, cert)
    srv.ctl("queue", "flush")
    [path] = wait_new(srv, user, 1)
    inner = run("openssl", "cms", "-decrypt", "-in", path, "-recip", cert, "-inkey", key).stdout
    assert strip_our_received(unprotect(inner)) == m
    assert wait_for(srv.queue_empty, 15)
    assert_nowhere(srv, token)


@pytest.fixture
def clear_inst(tmp_parent):
    inst = Instance(tmp_parent)
    inst.init()
    inst.set_conf("tern", "encrypt_failure", "deliver_clear")
    inst.set_conf("tern", "encrypt_keep_subject", "yes")
    inst.start()
    yield inst
    inst.stop()


def test_deliver_clear_and_keep_subject(clear_inst, keydir):
    inst = clear_inst
    for u in ("a", "b"):
        inst.add_user(f"{u}@example.test", "pw-secret")
    inst.ctl("user", "key", "a@example.test", "import", smime_cert(keydir, "a@example.test")[0])
    cert, expiry = short_lived_cert(keydir, "b@example.test", 8)
    inst.ctl("user", "key", "b@example.test", "import", cert)
    sleep_past(expiry)
    for u in ("a", "b"):
        with smtplib.SMTP("127.0.0.1", inst.port("smtp"), timeout=30) as s:
            s.sendmail("ann@remote.test", [f"{u}@example.test"],
                       crlf(f"From: ann@remote.test\nSubject: visible {u}\n\nbody {u}\n"))
    new = {u: os.path.join(inst.maildir(f"{u}@example.test"), "new") for u in ("a", "b")}
    assert wait_for(lambda: all(os.listdir(d) for d in new.values()), 30), inst.log_text()[-3000:]
    a = read(os.path.join(new["a"], os.listdir(new["a"])[0]))
    assert b"\nSubject: visible a\n" in a and b"pkcs7-mime" in a and b"body a" not in a
    b = read(os.path.join(new["b"], os.listdir(new["b"])[0]))
    assert b"body b\n" in b and b"pkcs7-mime" not in b
    assert re.search(r"warning: .*to=<b@example.test>: storing in clear \(encrypt_failure = "
                     r"deliver_clear\): the certificate expired", inst.log_text())

    def append(user, text):
        c = imaplib.IMAP4_SSL("127.0.0.1", inst.port("imaps"), ssl_context=tls_ctx(inst.cert()),
                              timeout=30)
        c.login(user, "pw-secret")
        assert c.append("Sent", None, None, crlf(text))[0] == "OK"
        c.logout()
        cur = os.path.join(inst.maildir(user), ".Sent", "cur")
        return [read(os.path.join(cur, n)) for n in os.listdir(cur)]

    assert b"pkcs7-mime" in append("a@example.test", "Subject: s\n\nsealed one\n")[0]
    assert append("b@example.test", "Subject: s\n\nclear one\n")[0] == b"Subject: s\n\nclear one\n"
    assert re.search(r"user=b@example.test: APPEND stored in clear \(encrypt_failure = deliver_clear\)",
                     inst.log_text())
    inst.set_conf("tern", "encrypt_append", "no")
    inst.ctl("reload")
    time.sleep(1)
    assert b"Subject: s\n\nnot sealed\n" in append("a@example.test", "Subject: s\n\nnot sealed\n")


def test_bad_keys_are_refused(srv, keydir):
    user, _ = srv.new_user()
    keyfile = os.path.join(srv.maildir(user), KEYFILE)
    cert, key = smime_cert(keydir, user)
    signing_only, _ = smime_cert(keydir, user, "-addext", "keyUsage=digitalSignature",
                                 "-addext", "extendedKeyUsage=emailProtection")
    other, _ = smime_cert(keydir, "someone@else.test")
    corrupt = os.path.join(keydir, "corrupt.pem")
    with open(corrupt, "w") as f:
        f.write(open(cert).read()[:200] + "\n-----END CERTIFICATE-----\n")
    pgp = pgp_key(keydir, user)
    secret = os.path.join(keydir, "secret.asc")
    with open(secret, "wb") as f:
        f.write(run("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                    "--export-secret-keys", "--armor", f"<{user}>", env=gpg_env(keydir)).stdout)
    for path, why in ((corrupt, "does not parse"), (key, "private key"), (secret, "private key"),
                      (signing_only, "not for S/MIME encryption"), (other, "not " + user),
                      ("/nonexistent", "cannot open")):
        r = import_key(srv, user, path, check=False)
        assert r.returncode != 0 and why in r.stderr, (path, r.stderr)
        assert not os.path.exists(keyfile)
    r = srv.ctl("user", "key", user, "show", check=False)
    assert r.returncode != 0 and "has no key" in r.stderr
    # A key for another address goes in only when forced (with a warning).
    r = import_key(srv, user, other, "--force")
    assert "warning" in r.stderr and os.path.exists(keyfile)
    import_key(srv, user, pgp)
    show = srv.ctl("user", "key", user, "show").stdout
    assert "type: openpgp" in show and "status: usable" in show and user in show
    assert b"PRIVATE" not in read(keyfile)
    srv.ctl("user", "key", user, "del")
    assert not os.path.exists(keyfile)
    r = srv.ctl("user", "key", "nobody@example.test", "show", check=False)
    assert r.returncode != 0 and "no such user" in r.stderr


def test_binary_append_is_sealed_with_its_binary_part_base64(srv, keydir):
    """A literal8 APPEND (RFC 3516) of a user with a key: composed from its
    in-memory spool (binary part base64-encoded) and sealed like any other."""
    box = Mailbox(srv)
    cert, key = smime_cert(keydir, box.user)
    import_key(srv, box.user, cert)
    token = "tok" + uuid.uuid4().hex
    raw = b"\x00\r\n\n" + token.encode()
    msg = crlf(f"From: {box.user}\nSubject: bin {token}-subject\n"
               "Content-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n") + raw
    c = RawImap(box)
    c.n += 1
    tag = b"t%d" % c.n
    c.send(tag + b" APPEND Sent ~{%d}\r\n" % len(msg))
    assert c.line().startswith(b"+")
    c.send(msg + b"\r\n")
    assert c.until_tag(tag)[-1].startswith(tag + b" OK [APPENDUID")
    c.close()
    cur = os.path.join(srv.maildir(box.user, "Sent"), "cur")
    (name,) = os.listdir(cur)
    check_outer(read(os.path.join(cur, name)), "smime")
    inner = unprotect(run("openssl", "cms", "-decrypt", "-in", os.path.join(cur, name),
                          "-recip", cert, "-inkey", key).stdout)
    assert b"Content-Transfer-Encoding: base64" in inner
    import base64
    assert base64.b64encode(raw) in inner.replace(b"\r\n", b"")
    assert_nowhere(srv, token)


def role_pid(srv, role):
    for line in srv.ctl("status").stdout.splitlines():
        f = line.split()
        if f and f[0] == role and f[-1] == "running":
            return int(f[1])
    raise AssertionError(srv.ctl("status").stdout)


def test_pgp_append_from_a_mail_role_light_to_fork(srv, keydir):
    """The IMAP mail role preloads librnp for sealed APPENDs and forks a
    process per login: Botan's locked pool (128 pages between guard pages,
    ~260 mappings that every fork copied: fork+exit 9-10 ms instead of 1) is
    off, and sealing with OpenPGP in the forked session still works."""
    with open(f"/proc/{role_pid(srv, 'imapd-mail')}/maps") as f:
        maps = [l.split() for l in f.read().splitlines()]
    # small inaccessible anonymous mappings: the pool's guard pages (~130
    # with it; a few thread-stack guards without, under ASan too)
    guards = [m for m in maps if len(m) == 5 and m[1] == "---p" and
              int(m[0].split("-")[1], 16) - int(m[0].split("-")[0], 16) <= 16384]
    assert len(guards) < 32, (len(guards), len(maps))
    box = Mailbox(srv)
    import_key(srv, box.user, pgp_key(keydir, box.user))
    token = "tok" + uuid.uuid4().hex
    msg = crlf(f"From: {box.user}\nTo: bob@remote.test\nSubject: pgp {token}-subject\n"
               f"Date: Mon, 01 Jan 2024 10:00:00 +0000\n\nbody {token}-body\n")
    c = RawImap(box)
    lines = c.cmd(b"APPEND Sent " + lit(msg))
    assert lines[-1].startswith(c.tag + b" OK [APPENDUID"), lines
    c.close()
    cur = os.path.join(srv.maildir(box.user, "Sent"), "cur")
    [name] = os.listdir(cur)
    path = os.path.join(cur, name)
    check_outer(read(path), "pgp")
    assert unprotect(run("gpg", "--batch", "--decrypt", path, env=gpg_env(keydir)).stdout) == msg
    assert_nowhere(srv, token)
