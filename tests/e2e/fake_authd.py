"""A stand-in for the auth service (common/auth_proto.h RCPT and EXPAND only),
used by the queue tests until tern-authd is part of the build. It answers from
a JSON file: {"domains": [...], "users": {"a@d": quota}, "aliases": {"x@d":
["a@d", ...]}, "catchall": {"d": "a@d"}}; user+detail@d expands to user@d
with folder "detail"."""
import json
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import ipcwire  # noqa: E402

AUTH_RCPT_REQ, AUTH_RCPT_RES, AUTH_EXPAND_REQ, AUTH_EXPAND_RES = 102, 103, 106, 107


class Db:
    def __init__(self, path):
        self.path = path

    def load(self):
        with open(self.path) as f:
            d = json.load(f)
        return ({x.lower() for x in d.get("domains", [])}, d.get("users", {}),
                d.get("aliases", {}), d.get("catchall", {}))

    def expand(self, addr, depth=0):
        """('ok', [(mailbox, folder, quota)]) | ('unknown',) | ('loop',) | ('remote',)"""
        domains, users, aliases, catchall = self.load()
        addr = addr.lower()
        if "@" not in addr:
            return ("unknown",)
        local, dom = addr.rsplit("@", 1)
        if dom not in domains:
            return ("remote",)
        if depth > 10:
            return ("loop",)
        base, _, detail = local.partition("+")
        if addr in users:
            return ("ok", [(addr, "", users[addr])])
        if f"{base}@{dom}" in users:
            return ("ok", [(f"{base}@{dom}", detail, users[f"{base}@{dom}"])])
        targets = aliases.get(addr) or aliases.get(f"{base}@{dom}")
        if not targets and dom in catchall:
            targets = [catchall[dom]]
        if not targets:
            return ("unknown",)
        out = []
        for t in targets:
            r = self.expand(t, depth + 1)
            if r[0] == "loop":
                return r
            if r[0] == "ok":
                out += r[1]
        return ("ok", out) if out else ("unknown",)


def serve(conn, db):
    try:
        while True:
            mtype, mid, fields, fd = ipcwire.recv_frame(conn)
            if fd is not None:
                os.close(fd)
            addr = fields[0] if fields else ""
            r = db.expand(addr)
            if mtype == AUTH_RCPT_REQ:
                kind = {"ok": 0, "unknown": 1, "loop": 0, "remote": 2}[r[0]]
                conn.sendall(ipcwire.encode(AUTH_RCPT_RES, [("u32", kind)], mid))
            elif mtype == AUTH_EXPAND_REQ:
                if r[0] == "ok":
                    f = [("u32", 0), ("u32", len(r[1]))]
                    for mb, folder, quota in r[1]:
                        f += [("str", mb), ("str", folder), ("u64", int(quota))]
                else:
                    f = [("u32", 2 if r[0] == "loop" else 1), ("u32", 0)]
                conn.sendall(ipcwire.encode(AUTH_EXPAND_RES, f, mid))
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def main():
    sock_path, db_path = sys.argv[1], sys.argv[2]
    try:
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock_path)
    os.chmod(sock_path, 0o666)
    s.listen(64)
    db = Db(db_path)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, db), daemon=True).start()


if __name__ == "__main__":
    main()
