"""tern IPC framing (common/ipc.h) for tests: a 12-byte header and typed fields."""
import socket
import struct

T_U32, T_U64, T_STR, T_BYTES = 1, 2, 3, 4


def encode(mtype, fields, mid=0):
    body = b""
    for kind, val in fields:
        if kind == "u32":
            body += struct.pack(">BII", T_U32, 4, val)
        elif kind == "u64":
            body += struct.pack(">BIQ", T_U64, 8, val)
        else:
            data = val.encode() if isinstance(val, str) else val
            body += struct.pack(">BI", T_STR, len(data)) + data
    return struct.pack(">IHBBI", len(body), mtype, 1, 0, mid) + body


def decode_fields(body):
    out, pos = [], 0
    while pos < len(body):
        tag, n = struct.unpack(">BI", body[pos:pos + 5])
        data = body[pos + 5:pos + 5 + n]
        pos += 5 + n
        if tag == T_U32:
            out.append(struct.unpack(">I", data)[0])
        elif tag == T_U64:
            out.append(struct.unpack(">Q", data)[0])
        else:
            out.append(data.decode(errors="replace"))
    return out


def recv_frame(sock):
    """(type, id, fields, fd or None); raises EOFError at end of stream."""
    hdr, fds = b"", []
    while len(hdr) < 12:
        msg, anc, _, _ = sock.recvmsg(12 - len(hdr), socket.CMSG_SPACE(16))
        if not msg:
            raise EOFError
        hdr += msg
        fds += _fds(anc)
    n, mtype, _ver, _flags, mid = struct.unpack(">IHBBI", hdr)
    body = b""
    while len(body) < n:
        msg, anc, _, _ = sock.recvmsg(n - len(body), socket.CMSG_SPACE(16))
        if not msg:
            raise EOFError
        body += msg
        fds += _fds(anc)
    return mtype, mid, decode_fields(body), (fds[0] if fds else None)


def _fds(anc):
    fds = []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += list(struct.unpack(f"{len(data) // 4}i", data[:len(data) - len(data) % 4]))
    return fds
