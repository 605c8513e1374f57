"""Watch a Maildir's new/ with inotify (through ctypes: the standard
library has no binding) and record when each file appears. A file shows up
either by link()/creat (IN_CREATE, tern's deliverd) or by rename from tmp/
(IN_MOVED_TO, Postfix's virtual), so both are watched."""
import ctypes
import os
import select
import struct
import threading
import time

IN_CREATE = 0x100
IN_MOVED_TO = 0x80
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


class NewWatcher:
    def __init__(self, directory):
        self.fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        wd = _libc.inotify_add_watch(self.fd, directory.encode(), IN_CREATE | IN_MOVED_TO)
        if wd < 0:
            os.close(self.fd)
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {directory}")
        self.seen = {}                      # name -> monotonic time
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if not r:
                continue
            now = time.monotonic()
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                continue
            pos = 0
            while pos + 16 <= len(data):
                _, _, _, n = struct.unpack_from("iIII", data, pos)
                name = data[pos + 16:pos + 16 + n].rstrip(b"\0").decode(errors="replace")
                pos += 16 + n
                with self.lock:
                    self.seen.setdefault(name, now)

    def count(self):
        with self.lock:
            return len(self.seen)

    def close(self):
        self.stopping = True
        self.thread.join(timeout=2)
        os.close(self.fd)
