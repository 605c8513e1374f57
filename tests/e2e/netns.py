"""A network namespace for tests that need clients at non-loopback addresses
(root only): its loopback interface carries the TEST-NET addresses a test asks
for, an instance runs inside it under `ip netns exec`, and Python code runs
inside it on a thread of its own (Netns.run)."""
import concurrent.futures
import ctypes
import os
import signal
import subprocess

CLONE_NEWNET = 0x40000000


class Netns:
    """A network namespace of this test's, its loopback carrying extra addresses."""

    def __init__(self, tag, addrs, workers=1):
        self.name = f"tern-{tag}-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.ip("link", "set", "lo", "up")
        for a in addrs:
            if ":" in a:
                self.ip("addr", "add", f"{a}/128", "dev", "lo", "nodad")
            else:
                self.ip("addr", "add", f"{a}/32", "dev", "lo")
        self.prefix = ("ip", "netns", "exec", self.name)
        # Threads of ours live in the namespace (one unless asked): sockets
        # they make belong there.
        self.thread = concurrent.futures.ThreadPoolExecutor(workers, initializer=self._enter)

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

    def pids(self):
        """The processes whose network namespace this is (the daemons run
        in it; none of this test process's own threads counts)."""
        p = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True)
        return [int(x) for x in p.stdout.split()]

    def kill(self):
        """SIGKILL every process in the namespace (a host losing power);
        returns their pids."""
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

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


class Lan:
    """One Ethernet segment between namespaces: a bridge in a namespace of
    its own, and a veth from each host (Netns) to it carrying the host's
    address (a /24). Each host sees the others only through it."""

    def __init__(self, tag):
        self.tag = tag
        self.switch = Netns(f"{tag}sw", [])
        self.switch.ip("link", "add", "br0", "type", "bridge")
        self.switch.ip("link", "set", "br0", "up")
        self.hosts = []

    def host(self, tag, addr, workers=1):
        """A new namespace on the segment at addr."""
        ns = Netns(f"{self.tag}{tag}", [], workers=workers)
        self.hosts.append(ns)
        end, port = "eth0", f"p{os.getpid() % 100000}-{len(self.hosts)}"
        subprocess.run(["ip", "link", "add", end, "netns", ns.name, "type", "veth", "peer", "name",
                        port, "netns", self.switch.name], check=True)
        ns.ip("addr", "add", f"{addr}/24", "dev", end)
        ns.ip("link", "set", end, "up")
        self.switch.ip("link", "set", port, "master", "br0", "up")
        return ns

    def delete(self):
        """Every host's processes killed (only ours run there), then the
        namespaces removed."""
        for ns in self.hosts + [self.switch]:
            ns.kill()
            ns.delete()
