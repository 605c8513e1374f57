"""A message sent over SMTP (real tern-smtpd, Python's smtplib) lands in the
Maildir byte-exact: our Return-Path, Delivered-To and smtpd's Received header
in front, then the message as sent, with LF line endings."""
import os
import re
import smtplib

import pytest

from queue_env import QueueEnv
from smtpd_env import SmtpdRunner


@pytest.fixture
def env(tmp_parent):
    e = QueueEnv(tmp_parent)
    e.add_user("alice@example.test")
    e.add_user("bob@example.test")
    e.start()
    e.smtpd = SmtpdRunner(e.dir, e.hostname)
    e.smtpd.start()
    yield e
    try:
        e.smtpd.stop()
    finally:
        e.stop()


MESSAGE = (b"From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\n"
           b"Subject: =?utf-8?q?caf=C3=A9?=\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           b".a line with a leading dot\r\n\r\n\tindented\r\ntrailing space \r\n"
           + "caf\u00e9 \u2603\r\n".encode() + b"x" * 998 + b"\r\n" + b"last line\r\n")


def test_smtp_to_maildir_byte_exact(env):
    with smtplib.SMTP("127.0.0.1", env.smtpd.port("smtp"), timeout=30) as s:
        assert s.sendmail("bob@remote.test", ["alice@example.test"], MESSAGE,
                          mail_options=["BODY=8BITMIME"]) == {}
    [path] = env.wait_mail("alice@example.test")
    with open(path, "rb") as f:
        data = f.read()
    want = MESSAGE.replace(b"\r\n", b"\n")
    assert data.endswith(want)
    head = data[:-len(want)].decode()
    assert head.startswith("Return-Path: <bob@remote.test>\nDelivered-To: alice@example.test\n")
    rest = head.split("\n", 2)[2]
    # only the headers smtpd puts in front (Received, maybe Authentication-Results)
    assert re.fullmatch(r"(?:(?:Received|Authentication-Results): [^\n]*\n(?:[ \t][^\n]*\n)*)+", rest), rest
    name = os.path.basename(path)
    m = re.search(r",S=(\d+),W=(\d+)$", name)
    assert int(m.group(1)) == len(data) and int(m.group(2)) == len(data) + data.count(b"\n")
    env.wait_queue_empty()


def test_smtp_bounce_dsn_to_sender_maildir(env):
    env.add_alias("gone@example.test", ["nobody@example.test"])  # expands to nothing local
    with smtplib.SMTP("127.0.0.1", env.smtpd.port("smtp"), timeout=30) as s:
        s.sendmail("bob@example.test", ["alice@example.test", "gone@example.test"],
                   b"Subject: partly\r\n\r\nhello\r\n")
    env.wait_mail("alice@example.test")
    [dsn] = env.wait_mail("bob@example.test")
    with open(dsn, "rb") as f:
        data = f.read()
    assert b"multipart/report; report-type=delivery-status" in data
    assert b"Final-Recipient: rfc822; gone@example.test" in data
    assert b"Action: failed" in data
    env.wait_queue_empty()


def test_notify_success_and_never(env):
    env.add_alias("gone@example.test", ["nobody@example.test"])	# accepted, then bounces
    with smtplib.SMTP("127.0.0.1", env.smtpd.port("smtp"), timeout=30) as s:
        s.ehlo()
        assert s.has_extn("dsn")
        s.sendmail("bob@example.test", ["alice@example.test"], b"Subject: tell me\r\n\r\nhi\r\n",
                   mail_options=["RET=HDRS", "ENVID=env+2B1"],
                   rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;alice@example.test"])
        s.sendmail("bob@example.test", ["gone@example.test"], b"Subject: quiet\r\n\r\nhi\r\n",
                   rcpt_options=["NOTIFY=NEVER"])
    env.wait_mail("alice@example.test")
    env.wait_queue_empty()
    [dsn] = env.wait_mail("bob@example.test")
    with open(dsn, "rb") as f:
        data = f.read()
    assert b"Subject: Successful Mail Delivery Report" in data
    assert b"Action: delivered\nStatus: 2.0.0" in data
    assert b"Original-Envelope-Id: env+1" in data
    assert b"Original-Recipient: rfc822;alice@example.test" in data
    assert b"Content-Type: text/rfc822-headers" in data
