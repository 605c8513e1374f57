"""Commands a client pipelines behind LOGIN (sent in the same packet, before
the tagged OK) reach the session: the login process hands what it has read
beyond LOGIN to the session process, which must answer it (RFC 3501 5.5)."""
import socket
import time

import pytest

from imap_harness import ImapInstance, Mailbox


@pytest.fixture(scope="module")
def box():
    inst = ImapInstance(imapd_conf={"plaintext_auth_networks": "127.0.0.0/8, ::1"})
    try:
        yield Mailbox(inst)
    finally:
        inst.close()


def until_tag(s, tag, timeout=20):
    """Read (bounded) until the tagged reply of tag; returns all bytes read."""
    data, end = b"", time.monotonic() + timeout
    while time.monotonic() < end and f"\r\n{tag} ".encode() not in b"\r\n" + data:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_commands_pipelined_behind_login(box):
    box.deliver(b"From: a@example.org\r\nSubject: piped\r\n\r\nbody\r\n")
    with socket.create_connection(("127.0.0.1", box.imap_port), timeout=10) as s:
        assert s.recv(4096).startswith(b"* OK")
        s.sendall(f"a LOGIN {box.user} {box.pw}\r\nb SELECT INBOX\r\n"
                  f"c UID SEARCH SUBJECT piped\r\nd LOGOUT\r\n".encode())
        data = until_tag(s, "d")
    assert b"\r\na OK" in b"\r\n" + data, data
    assert b"\r\nb OK" in data and b"* 1 EXISTS" in data, data
    assert b"* SEARCH 1\r\n" in data and b"\r\nc OK" in data, data
    assert b"\r\nd OK" in data, data
