"""A small client of tern's auth channel (common/ipc.h framing, common/auth_proto.h
messages), so tests can speak to tern-authd exactly as the daemons do, and also
send it what no daemon would."""
import socket
import struct

(LOGIN, LOGIN_RES, RCPT, RCPT_RES, SENDER, SENDER_RES, EXPAND, EXPAND_RES, USER, USER_RES,
 SITE_LOGIN, SITE_LOGIN_RES) = range(100, 112)
ADDRESSES, ADDRESSES_RES, ROUTE, ROUTE_RES = range(112, 116)
AUTH_OK, AUTH_FAIL, AUTH_TEMPFAIL, AUTH_LOCKED = range(4)
RCPT_LOCAL, RCPT_UNKNOWN, RCPT_REMOTE, RCPT_TEMPFAIL = range(4)
EXPAND_OK, EXPAND_UNKNOWN, EXPAND_LOOP, EXPAND_TEMPFAIL = range(4)
T_U32, T_U64, T_STR = 1, 2, 3


def field(v):
    if isinstance(v, tuple):                 # ("u64", n)
        return struct.pack(">BI", T_U64, 8) + struct.pack(">Q", v[1])
    if isinstance(v, int):
        return struct.pack(">BI", T_U32, 4) + struct.pack(">I", v)
    b = v.encode() if isinstance(v, str) else v
    return struct.pack(">BI", T_STR, len(b)) + b


def frame(mtype, mid, *fields, version=1):
    payload = b"".join(field(f) for f in fields)
    return struct.pack(">IHBBI", len(payload), mtype, version, 0, mid) + payload


def parse_fields(payload):
    out, pos = [], 0
    while pos < len(payload):
        tag, n = struct.unpack(">BI", payload[pos:pos + 5])
        data = payload[pos + 5:pos + 5 + n]
        pos += 5 + n
        if tag == T_U32:
            out.append(struct.unpack(">I", data)[0])
        elif tag == T_U64:
            out.append(struct.unpack(">Q", data)[0])
        else:
            out.append(data.decode())
    return out


class AuthConn:
    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.next_id = 1

    def close(self):
        self.s.close()

    def send_raw(self, data):
        self.s.sendall(data)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed by authd")
            buf += chunk
        return buf

    def recv(self):
        """(type, id, fields) of the next reply."""
        length, mtype, _ver, _flags, mid = struct.unpack(">IHBBI", self._read(12))
        return mtype, mid, parse_fields(self._read(length))

    def send(self, mtype, *fields):
        mid = self.next_id
        self.next_id += 1
        self.s.sendall(frame(mtype, mid, *fields))
        return mid

    def call(self, mtype, *fields):
        mid = self.send(mtype, *fields)
        rtype, rid, out = self.recv()
        assert rtype == mtype + 1 and rid == mid, (rtype, rid)
        return out

    def login(self, user, password, service="imap", client="192.0.2.1"):
        """[result, user, token, mailbox host ("" here)]"""
        return self.call(LOGIN, service, user, password, client)

    def site_login(self, user, secret, service="imap", client="192.0.2.1"):
        return self.call(SITE_LOGIN, service, user, secret, client)

    def rcpt(self, address):
        return self.call(RCPT, address)[0]

    def sender(self, user, address):
        return self.call(SENDER, user, address)[0]

    def user(self, user):
        return self.call(USER, user)

    def expand(self, address):
        return boxes_of(self.call(EXPAND, address))

    def route(self, address):
        """(rcpt kind, mailbox host, expand status, mailboxes as expand() gives them)."""
        out = self.call(ROUTE, address)
        return (out[0], out[1], *boxes_of(out[2:]))


def boxes_of(out):
    status, n, rest = out[0], out[1], out[2:]
    # (mailbox, folder, quota) for local mailboxes, (address, "remote") for
    # the remote addresses an alias forwards to
    assert len(rest) == 4 * n, out
    entries = [rest[i * 4:i * 4 + 4] for i in range(n)]
    return status, [(e[0], "remote") if e[3] else tuple(e[:3]) for e in entries]
