#!/usr/bin/python3
"""userns.py LIMIT CMD...: run CMD in a new user namespace that maps every uid
and gid to itself, with that namespace's /proc/sys/user/max_inotify_instances
set to LIMIT. Root only (the parent writes the identity maps, which needs
CAP_SETUID outside). The kernel counts inotify instances per uid in each user
namespace up the chain, so a test gets a small per-uid limit for the daemons
it starts there without touching the machine's own (other tests run beside).
Processes CMD leaves behind (an instance's daemons) stay in the namespace."""
import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000


def main(limit, cmd):
    libc = ctypes.CDLL(None, use_errno=True)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        if libc.unshare(CLONE_NEWUSER) != 0:
            os.write(2, b"userns.py: unshare: %s\n" % os.strerror(ctypes.get_errno()).encode())
            os._exit(111)
        os.write(ready_w, b"x")
        if os.read(go_r, 1) != b"x":
            os._exit(111)
        with open("/proc/sys/user/max_inotify_instances", "w") as f:
            f.write(str(limit))
        os.execvp(cmd[0], cmd)
    os.close(ready_w)
    os.close(go_r)
    if os.read(ready_r, 1) == b"x":
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write("0 0 4294967295\n")
        os.write(go_w, b"x")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2:]))
