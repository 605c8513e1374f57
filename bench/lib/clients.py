"""Small, fast protocol clients of ours for the workloads that have no
established load generator. They read in large blocks and scan only for the
end of each reply, so the client costs little next to the server it measures.
Every socket has a timeout; every loop is bounded by the reply it waits for."""
import re
import socket
import time

TIMEOUT = 120.0
RECV = 1 << 18


class ProtocolError(Exception):
    pass


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = bytearray()
        self.received = 0

    def send(self, data):
        self.sock.sendall(data)

    def fill(self):
        chunk = self.sock.recv(RECV)
        if not chunk:
            raise ProtocolError("connection closed by server")
        self.buf += chunk
        self.received += len(chunk)

    def read_until(self, token, start=0):
        """Bytes up to and including token (consumed from the buffer)."""
        pos = start
        while True:
            i = self.buf.find(token, max(pos - len(token), 0))
            if i >= 0:
                out = bytes(self.buf[:i + len(token)])
                del self.buf[:i + len(token)]
                return out
            pos = len(self.buf)
            self.fill()

    def line(self):
        return self.read_until(b"\r\n")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------------------ IMAP

class Imap(Conn):
    """Tagged commands; literals in replies are skipped by counting bytes, so
    message text can never be mistaken for the tagged reply."""

    def __init__(self, port, **kw):
        super().__init__(port, **kw)
        self.n = 0
        greet = self.line()
        if not greet.startswith(b"* OK"):
            raise ProtocolError(f"IMAP greeting: {greet[:100]!r}")

    def cmd(self, text):
        """Send one command; return (untagged bytes, tagged line)."""
        self.n += 1
        tag = b"b%d" % self.n
        self.send(tag + b" " + text.encode() + b"\r\n")
        return self.reply(tag)

    def reply(self, tag):
        out = []
        while True:
            line = self.line()
            m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
            if m:                                   # literal: take it whole
                n = int(m.group(1))
                while len(self.buf) < n:
                    self.fill()
                out.append(line + bytes(self.buf[:n]))
                del self.buf[:n]
                continue
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise ProtocolError(f"IMAP: {line[:200]!r}")
                return b"".join(out), line
            out.append(line)

    def login(self, user, password):
        return self.cmd(f'LOGIN "{user}" "{password}"')


def imap_count(untagged, word=b"FETCH"):
    return len(re.findall(rb"^\* \d+ " + word, untagged, re.M))


def imap_search_result(untagged):
    for line in untagged.split(b"\r\n"):
        if line.startswith(b"* SEARCH"):
            return [int(x) for x in line.split()[2:]]
    return []


# ------------------------------------------------------------------ POP3

class Pop3(Conn):
    def __init__(self, port, **kw):
        super().__init__(port, **kw)
        self.ok(self.line())

    @staticmethod
    def ok(line):
        if not line.startswith(b"+OK"):
            raise ProtocolError(f"POP3: {line[:200]!r}")
        return line

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.ok(self.line())

    def multi(self, text):
        """A multi-line reply: body bytes between the status line and '.'."""
        self.cmd(text)
        body = self.read_until(b"\r\n.\r\n") if not self.buf.startswith(b".\r\n") \
            else self.read_until(b".\r\n")
        return body


# ------------------------------------------------------------------ SMTP

class Smtp(Conn):
    """Minimal ESMTP client for the steady-rate workload: one persistent
    session, one message per transaction, time of the 250 after DATA."""

    def __init__(self, port, helo="client.bench.test", **kw):
        super().__init__(port, **kw)
        self.expect(b"220")
        self.send(b"EHLO " + helo.encode() + b"\r\n")
        self.expect(b"250")

    def expect(self, code):
        while True:
            line = self.line()
            if not line.startswith(code):
                raise ProtocolError(f"SMTP: wanted {code!r}, got {line[:200]!r}")
            if line[3:4] == b" ":
                return line

    def send_message(self, sender, rcpt, data):
        """data: bytes with CRLF line endings, no dot-stuffing needed (the
        bench's messages have no line starting with '.')."""
        self.send(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (sender.encode(),
                                                                     rcpt.encode()))
        self.expect(b"250")
        self.expect(b"250")
        self.expect(b"354")
        self.data_sent_at = time.monotonic()     # w_jmap times push from here too
        self.send(data + b".\r\n")
        self.expect(b"250")
        return time.monotonic()

    def quit(self):
        try:
            self.send(b"QUIT\r\n")
            self.expect(b"221")
        except (OSError, ProtocolError):
            pass
        self.close()
