"""tern IPC framing (common/ipc.h) in Python, for test doubles of peer daemons.

Frame: u32 payload length, u16 type, u8 version, u8 flags, u32 id (big endian),
then fields: u8 tag, u32 length, bytes. One fd may ride with a frame (SCM_RIGHTS).
"""
import socket
import struct

IPC_VERSION = 1
IPC_F_FD = 1
T_U32, T_U64, T_STR, T_BYTES = 1, 2, 3, 4

# common/auth_proto.h
AUTH_LOGIN_REQ, AUTH_LOGIN_RES, AUTH_RCPT_REQ, AUTH_RCPT_RES = 100, 101, 102, 103
AUTH_SENDER_REQ, AUTH_SENDER_RES = 104, 105
AUTH_OK, AUTH_FAIL, AUTH_TEMPFAIL, AUTH_LOCKED = 0, 1, 2, 3
RCPT_LOCAL, RCPT_UNKNOWN, RCPT_REMOTE, RCPT_TEMPFAIL = 0, 1, 2, 3

# common/queue_proto.h
QUEUE_NEW_REQ, QUEUE_NEW_RES, QUEUE_COMMIT_REQ, QUEUE_COMMIT_RES, QUEUE_ABORT_REQ = \
    200, 201, 202, 203, 204
QS_OK, QS_TEMPFAIL, QS_NOSPACE, QS_REJECT, QS_NOTFOUND = 0, 1, 2, 3, 4
QUEUE_STATUS_REQ, QUEUE_STATUS_RES = 213, 214
QD_QUEUED, QD_YES, QD_NO, QD_UNKNOWN = 0, 1, 2, 3
QF_8BITMIME, QF_SMTPUTF8, QF_AUTH = 1, 2, 8


class Msg:
    def __init__(self, mtype, mid=0, fields=None, fd=None):
        self.type = mtype
        self.id = mid
        self.fields = list(fields or [])   # list of (tag, value)
        self.fd = fd
        self.pos = 0

    def u32(self, v=None):
        if v is None:
            return self._get(T_U32)
        self.fields.append((T_U32, v))
        return self

    def str(self, v=None):
        if v is None:
            return self._get(T_STR)
        self.fields.append((T_STR, v))
        return self

    def bytes(self, v=None):
        if v is None:
            return self._get(T_BYTES)
        self.fields.append((T_BYTES, v))
        return self

    def _get(self, tag):
        t, v = self.fields[self.pos]
        assert t == tag, f"field {self.pos}: tag {t}, wanted {tag}"
        self.pos += 1
        return v

    def encode(self):
        body = b""
        for tag, v in self.fields:
            if tag == T_U32:
                data = struct.pack(">I", v)
            elif tag == T_U64:
                data = struct.pack(">Q", v)
            elif tag == T_STR:
                data = v.encode() if isinstance(v, str) else v
            else:
                data = v
            body += struct.pack(">BI", tag, len(data)) + data
        flags = IPC_F_FD if self.fd is not None else 0
        return struct.pack(">IHBBI", len(body), self.type, IPC_VERSION, flags, self.id) + body


def decode_fields(body):
    fields, i = [], 0
    while i < len(body):
        tag, n = struct.unpack(">BI", body[i:i + 5])
        data = body[i + 5:i + 5 + n]
        if tag == T_U32:
            v = struct.unpack(">I", data)[0]
        elif tag == T_U64:
            v = struct.unpack(">Q", data)[0]
        elif tag == T_STR:
            v = data.decode("utf-8", "surrogateescape")
        else:
            v = data
        fields.append((tag, v))
        i += 5 + n
    return fields


class Conn:
    """A blocking connection reading whole frames (with any fds)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.fds = []

    def recv(self):
        while True:
            if len(self.buf) >= 12:
                n, mtype, ver, flags, mid = struct.unpack(">IHBBI", self.buf[:12])
                if len(self.buf) >= 12 + n:
                    body = self.buf[12:12 + n]
                    self.buf = self.buf[12 + n:]
                    fd = self.fds.pop(0) if flags & IPC_F_FD else None
                    return Msg(mtype, mid, decode_fields(body), fd)
            data, fds, _, _ = socket.recv_fds(self.sock, 65536, 4)
            if not data:
                return None
            self.buf += data
            self.fds.extend(fds)

    def send(self, msg):
        data = msg.encode()
        if msg.fd is not None:
            socket.send_fds(self.sock, [data], [msg.fd])
        else:
            self.sock.sendall(data)
