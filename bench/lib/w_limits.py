"""Workload 5: the machine's own limits, measured in the same run, so each
figure can be read as a fraction of what the disk and loopback allow."""
import os
import socket
import threading
import time


def fsync_rates(directory, seconds):
    """(fdatasync of 4 KiB appends per second, durable new files per second:
    create + write 4 KiB + fsync + rename + fsync of the directory, the
    pattern of a queue commit or a Maildir delivery)."""
    block = os.urandom(4096)
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    n, t0 = 0, time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            os.write(fd, block)
            os.fdatasync(fd)
            n += 1
    finally:
        os.close(fd)
        os.unlink(path)
    appends = n / (time.monotonic() - t0)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    n, t0 = 0, time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            tmp, final = os.path.join(directory, f"t{n}"), os.path.join(directory, f"f{n}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, block)
            os.fsync(fd)
            os.close(fd)
            os.rename(tmp, final)
            os.fsync(dfd)
            n += 1
    finally:
        os.close(dfd)
        for i in range(n + 1):
            for p in (f"t{i}", f"f{i}"):
                try:
                    os.unlink(os.path.join(directory, p))
                except OSError:
                    pass
    return appends, n / (time.monotonic() - t0)


def loopback_mb_s(seconds):
    """TCP over 127.0.0.1, one stream, 1 MiB writes (a Python sender and
    receiver: a floor for what a C server can do)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)
    got = [0]

    def sink():
        c, _ = srv.accept()
        c.settimeout(30)
        buf = bytearray(1 << 20)
        with c:
            while True:
                k = c.recv_into(buf)
                if not k:
                    return
                got[0] += k
    t = threading.Thread(target=sink, daemon=True)
    t.start()
    chunk = b"x" * (1 << 20)
    s = socket.create_connection(srv.getsockname(), timeout=30)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)
    t.join(timeout=30)
    dt = time.monotonic() - t0
    s.close()
    srv.close()
    return got[0] / dt / 1e6


class Limits:
    key, number, title = "limits", 5, "machine limits"

    def __init__(self, ctx):
        self.ctx = ctx
        self.p = ctx.params

    def systems(self):
        return [("machine", None)]

    def prepare(self, active):
        pass

    def finish(self, active):
        pass

    def run(self, system, rep):
        d = self.ctx.spool_dir()
        appends, files = fsync_rates(d, self.p["limit_secs"])
        lo = loopback_mb_s(self.p["limit_secs"])
        return [("fdatasync of 4 KiB appends (spool disk)", appends, "/s", "higher", {"dir": d}),
                ("new file + fsync + rename + dir fsync (spool disk)", files, "/s", "higher",
                 {"dir": d}),
                ("loopback TCP, one stream", lo, "MB/s", "higher", {})]
