"""A raw SMTP client for protocol tests: exact bytes out, replies parsed."""
import socket
import ssl
import time


class Raw:
    def __init__(self, port, host="127.0.0.1", implicit_tls=False, cafile=None, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.cafile = cafile
        if implicit_tls:
            self._wrap()

    def _ctx(self):
        ctx = ssl.create_default_context(cafile=self.cafile)
        ctx.check_hostname = False
        if not self.cafile:
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _wrap(self):
        self.sock = self._ctx().wrap_socket(self.sock)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, [text lines]) of one (possibly multi-line) reply."""
        lines = []
        while True:
            line = self._line()
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def code(self, line):
        return self.cmd(line)[0]

    def starttls(self):
        code, _ = self.cmd("STARTTLS")
        assert code == 220
        assert self.buf == b"", "server sent data after 220 to STARTTLS"
        self._wrap()

    def closed(self, timeout=10):
        """True once the server has closed the connection (bounded wait)."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
