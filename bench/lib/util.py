"""Small helpers shared by the bench: commands with timeouts, bounded waits,
free loopback ports, process trees and their memory."""
import os
import random
import socket
import subprocess
import sys
import time

VERBOSE = False


def log(msg):
    """Progress lines go to stderr so stdout keeps only the table."""
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def debug(msg):
    if VERBOSE:
        log(msg)


def run(argv, timeout=120, check=True, input=None, env=None, quiet=False):
    """Run a command with a timeout; returns CompletedProcess (text)."""
    debug("$ " + " ".join(str(a) for a in argv))
    p = subprocess.run([str(a) for a in argv], input=input, capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise RuntimeError(f"{argv[0]} {' '.join(str(a) for a in argv[1:3])}... exited "
                           f"{p.returncode}: {(p.stderr or p.stdout).strip()[-800:]}")
    return p


def wait_for(pred, timeout=10.0, interval=0.05):
    """Poll pred() until it is true or timeout passes (bounded); last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def port_bindable(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


STANDARD_PORTS = (25, 53, 587, 465, 110, 995, 143, 993, 80, 443)  # 53: the bench's dnsmasq
_taken = set()


def free_port_base():
    """A base N (below 32768 - 1000) with N + every standard mail port free.
    Bases end in 300 so they never meet the e2e tests' (x000, x500)."""
    for _ in range(100):
        base = random.randrange(12, 31) * 1000 + 300
        if base in _taken:
            continue
        if all(port_bindable(base + p) for p in STANDARD_PORTS):
            _taken.add(base)
            return base
    raise RuntimeError("no free loopback port base found")


# ---------------------------------------------------------------- processes

def _ppid_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        # comm may contain spaces: fields after the last ')'
        rest = st[st.rfind(")") + 2:].split()
        if rest[0] == "Z":
            continue
        kids.setdefault(int(rest[1]), []).append(int(d))
    return kids


def process_tree(root_pids):
    """root_pids and all their live descendants."""
    kids = _ppid_map()
    out, todo = [], list(root_pids)
    while todo:
        p = todo.pop()
        if p in out or not alive(p):
            continue
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def alive(pid):
    """True if pid exists and is not a zombie (init may reap slowly)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rfind(")") + 2] != "Z"


def _stat_fields(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return None
    return st[st.rfind(")") + 2:].split()


def cpu_seconds(root_pid):
    """CPU time (user + system, own + reaped children) of a server's whole
    process tree, zombies included: a child that exits between two samples
    moves into its parent's cutime, so differences stay consistent. Less
    sensitive to a busy machine than wall-clock time."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            f = _stat_fields(d)
            if f:
                kids.setdefault(int(f[1]), []).append(int(d))
    total, todo, seen = 0, [root_pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        f = _stat_fields(p)
        if not f:
            continue
        total += sum(int(x) for x in f[11:15])
        todo.extend(kids.get(p, []))
    return total / os.sysconf("SC_CLK_TCK")


def raise_fd_limit(want):
    """The bench's own descriptor limit (its client sockets; the servers it
    starts inherit it): the soft limit up to want, within the hard limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < new:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    if new < want:
        log(f"descriptor limit {new} (hard) is below the {want} the idle workload wants")


def memory_kb(pids):
    """(sum of PSS, sum of RSS) in KiB over pids, from smaps_rollup."""
    pss = rss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            continue
    return pss, rss


def kill_tree(root_pids, grace=5.0):
    """SIGTERM a process tree, then SIGKILL what is left after grace seconds."""
    pids = process_tree(root_pids)
    for sig in (15, 9):
        for p in pids:
            try:
                os.kill(p, sig)
            except OSError:
                pass
        if wait_for(lambda: not any(alive(p) for p in pids), grace):
            return
    return


def read_pidfile(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def ensure_account(name):
    """A system account (for peers' virtual mail) when running as root."""
    import pwd
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    run(["/usr/sbin/useradd", "--system", "--user-group", "--no-create-home",
         "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name])
    return pwd.getpwnam(name)


def chown_tree(path, uid, gid):
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), uid, gid)


def run_detached(argv, logpath, timeout=60):
    """Run a command that daemonizes (its children keep stdio open): output
    goes to logpath, not to pipes we would wait on."""
    debug("$ " + " ".join(str(a) for a in argv))
    with open(logpath, "ab") as out:
        p = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out,
                           stderr=out, timeout=timeout)
    if p.returncode != 0:
        with open(logpath, errors="replace") as f:
            raise RuntimeError(f"{argv[0]} exited {p.returncode}: {f.read()[-800:]}")
