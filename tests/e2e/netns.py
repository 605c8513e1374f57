"""A network namespace for tests that need clients at non-loopback addresses
(root only): its loopback interface carries the TEST-NET addresses a test asks
for, an instance runs inside it under `ip netns exec`, and Python code runs
inside it on a thread of its own (Netns.run)."""
import concurrent.futures
import ctypes
import os
import subprocess

CLONE_NEWNET = 0x40000000


class Netns:
    """A network namespace of this test's, its loopback carrying extra addresses."""

    def __init__(self, tag, addrs):
        self.name = f"tern-{tag}-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.ip("link", "set", "lo", "up")
        for a in addrs:
            if ":" in a:
                self.ip("addr", "add", f"{a}/128", "dev", "lo", "nodad")
            else:
                self.ip("addr", "add", f"{a}/32", "dev", "lo")
        self.prefix = ("ip", "netns", "exec", self.name)
        # One thread of ours lives in the namespace: sockets it makes belong there.
        self.thread = concurrent.futures.ThreadPoolExecutor(1, initializer=self._enter)

    def ip(self, *args):
        subprocess.run(["ip", "-n", self.name, *args], check=True)

    def _enter(self):
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)

    def run(self, fn, *args):
        return self.thread.submit(fn, *args).result(timeout=120)

    def delete(self):
        self.thread.shutdown()
        subprocess.run(["ip", "netns", "delete", self.name], check=False)


def veth(a, addr_a, b, addr_b):
    """Join namespaces a and b (Netns) with a veth pair carrying addr_a and
    addr_b (a /24 between them). Returns the names of the two ends; `ip -n B
    link set END_B down` then cuts b off without a FIN or reset reaching a."""
    end_a, end_b = f"tva{os.getpid() % 100000}", f"tvb{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", end_a, "netns", a.name, "type", "veth", "peer", "name",
                    end_b, "netns", b.name], check=True)
    for ns, end, addr in ((a, end_a, addr_a), (b, end_b, addr_b)):
        ns.ip("addr", "add", f"{addr}/24", "dev", end)
        ns.ip("link", "set", end, "up")
    return end_a, end_b
