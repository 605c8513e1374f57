"""bench/run: start the systems, run the chosen workloads with systems
alternated within each repetition, print the table, stop everything."""
import argparse
import ctypes
import os
import shutil
import signal
import tempfile
import time

import deps
import mailgen
import util
from dovecot import Dovecot
from postfix import Postfix
from report import Partial, Results, machine_meta
from tern import Tern
from util import log
from w_imap import ImapIdle, ImapLarge
from w_jmap import JmapIdle, JmapLarge
from w_imapstress import PASSWORD as STRESS_PASSWORD, ImapStress, stress_users
from w_limits import Limits
from w_pop3 import Pop3Retr
from w_crypt import SmtpToMaildirSealed
from w_site import SiteAccept
from w_smtp import SmtpAccept, SmtpToMaildir

WORKLOADS = [SmtpAccept, SmtpToMaildir, ImapLarge, ImapIdle, ImapStress, Pop3Retr, Limits,
             SmtpToMaildirSealed, JmapLarge, JmapIdle, SiteAccept]

FULL = dict(reps=3, msg_size=5120, accept_msgs=5000, accept_sessions=(10, 50),
            burst_msgs=1000, burst_sessions=10, steady_msgs=300, steady_rate=20,
            imap_msgs=100000, imap_size=4000, idle_conns=(500, 5000), idle_settle=8,
            push_conns=500,
            pop_msgs=200, pop_size=100 * 1024, limit_secs=2.0,
            stress_secs=30, stress_clients=(10, 50), push_deliveries=10)
QUICK = dict(reps=1, msg_size=5120, accept_msgs=100, accept_sessions=(10,),
             burst_msgs=30, burst_sessions=5, steady_msgs=10, steady_rate=20,
             imap_msgs=500, imap_size=4000, idle_conns=(10,), idle_settle=6, push_conns=10,
             pop_msgs=10, pop_size=100 * 1024, limit_secs=0.3,
             stress_secs=5, stress_clients=(10,), push_deliveries=3)

DOMAIN = "bench.test"
PER_USER = 20           # concurrent IMAP sessions per idle user (tern's default limit)
JMAP_PER_USER = 16      # EventSource streams per user (httpd/push.c MAX_STREAMS)
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(HERE)


def yescrypt(password):
    """The hash Dovecot's passwd-file gets: yescrypt like tern's users.db."""
    lc = ctypes.CDLL("libcrypt.so.1")
    lc.crypt_gensalt.restype = ctypes.c_char_p
    lc.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lc.crypt.restype = ctypes.c_char_p
    lc.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return "{CRYPT}" + lc.crypt(password.encode(), lc.crypt_gensalt(b"$y$", 0, None, 0)).decode()


class Context:
    def __init__(self, params, bindir, tmp):
        self.params = params
        self.bindir = bindir
        self.tmp = tmp
        self.smtp_user = f"smtp@{DOMAIN}"
        self.big_user = f"big@{DOMAIN}"
        self.pop_user = f"pop@{DOMAIN}"
        self.smime_user = f"smime@{DOMAIN}"
        self.pgp_user = f"pgp@{DOMAIN}"
        self.jmap_user = f"jmap@{DOMAIN}"
        nidle = -(-max(*params["idle_conns"], params["push_conns"]) // JMAP_PER_USER)
        self.idle_users = [f"idle{i:03d}@{DOMAIN}" for i in range(nidle)]
        self.per_user = PER_USER
        self.jmap_per_user = JMAP_PER_USER
        self.push_user = f"push@{DOMAIN}"   # every push session on one INBOX
        # the per-user session limit of every system: the push user's sessions
        self.session_limit = max(PER_USER, params["push_conns"] + 20)
        names = [self.smtp_user, self.big_user, self.pop_user, self.smime_user, self.pgp_user,
                 self.jmap_user, self.push_user, *self.idle_users]
        self.users = {}
        for a in names:
            pw = "pw-" + a.split("@")[0] + "-Bench9"
            self.users[a] = (pw, yescrypt(pw))
        # imaptest's stress mix logs in as stressN with one password for all
        stress_hash = yescrypt(STRESS_PASSWORD)
        for a in stress_users(DOMAIN):
            self.users[a] = (STRESS_PASSWORD, stress_hash)
        self.tern = self.postfix = self.dovecot = self.dovecot_hib = None
        self.unavailable_systems = {}
        self.corpora = {}

    def password(self, address):
        return self.users[address][0]

    def system(self, name):
        return {"tern": self.tern, "postfix": self.postfix, "dovecot": self.dovecot,
                "dovecot+hib": self.dovecot_hib}[name]

    def spool_dir(self):
        d = os.path.join(self.tmp, "probe")
        os.makedirs(d, exist_ok=True)
        return d

    def corpus(self, name, count, size):
        if name not in self.corpora:
            d = os.path.join(self.tmp, "corpus-" + name)
            log(f"writing {count} messages of ~{size} bytes into {d}")
            self.corpora[name] = mailgen.write_corpus(d, count, size, seed=len(name))
        return self.corpora[name]

    # ------------------------------------------------------------ systems
    def start_all(self, need_peers):
        t = Tern(self.tmp, self.bindir, util.free_port_base(), DOMAIN)
        why = t.missing()
        if why:
            self.unavailable_systems["tern"] = why
        else:
            self.tern = t
            try:
                t.setup(self.users)
                t.set_conf("imapd", "max_sessions_per_user", str(self.session_limit))
                t.start()
            except Exception as e:
                self.unavailable_systems["tern"] = f"did not start: {e}"
                log(f"tern: {e}\n{t.log_tail(1500)}")
        if not need_peers:
            return
        if os.geteuid() != 0:
            for s in ("postfix", "dovecot", "dovecot+hib"):
                self.unavailable_systems[s] = "the bench runs peers only as root"
            return
        why = deps.ensure_peers()
        if why:
            for s in ("postfix", "dovecot", "dovecot+hib"):
                self.unavailable_systems[s] = why
            return
        acct = util.ensure_account("tern-benchpeer")
        if "postfix" in need_peers:     # only the peers the chosen workloads compare with
            self.postfix = Postfix(self.tmp, util.free_port_base(), DOMAIN, self.users, acct)
            self.postfix.start()
        else:
            self.unavailable_systems["postfix"] = "not needed by the chosen workloads"
        conns = max(self.params["idle_conns"]) + self.params["push_conns"]
        self.dovecot = Dovecot(self.tmp, util.free_port_base(), DOMAIN, self.users, acct,
                               per_user=self.session_limit, conns=conns)
        self.dovecot.start()
        self.dovecot_hib = Dovecot(self.tmp, util.free_port_base(), DOMAIN, self.users, acct,
                                   per_user=self.session_limit, conns=conns, hibernate=True,
                                   mail_root=self.dovecot.mail_root)

    def stop_all(self):
        for s in (self.tern, self.postfix, self.dovecot, self.dovecot_hib):
            if s is None:
                continue
            try:
                s.stop()
            except Exception as e:
                log(f"stopping {s.name}: {e}")

    def unavailable(self, system, need):
        if system == "machine":
            return None
        if system in self.unavailable_systems:
            return self.unavailable_systems[system]
        if system == "tern":
            return self.tern.unavailable(need)
        return None


def commit_of(root):
    """The commit of the tree whose programs are measured (None outside git)."""
    try:
        p = util.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], check=False, timeout=10)
        return p.stdout.strip() or None
    except (OSError, util.subprocess.SubprocessError):
        return None


def pick(names):
    if not names:
        return list(WORKLOADS)
    out = []
    for n in names:
        hit = [w for w in WORKLOADS if n in (w.key, str(w.number))]
        if not hit:
            raise SystemExit(f"bench: unknown workload {n!r} (one of: "
                             + ", ".join(f"{w.number}/{w.key}" for w in WORKLOADS) + ")")
        out += [w for w in hit if w not in out]
    return out


def run_workload(ctx, res, cls, reps):
    wl = cls(ctx)
    why = wl.missing() if hasattr(wl, "missing") else None
    if why:                 # the workload's own needs (w_site.py: root, namespaces)
        log(f"{wl.key}: not available ({why})")
        res.note(wl.title, "tern", f"not available ({why})")
        return
    active = []
    for system, need in wl.systems():
        why = ctx.unavailable(system, need)
        if why:
            msg = "not available yet" + (f" ({why})" if system == "tern" else f" ({why})")
            log(f"{wl.key}: {system}: {msg}")
            res.note(wl.title, system, msg)
        else:
            active.append(system)
    if not active:
        return
    if ctx.dovecot_hib and "dovecot+hib" in active and not ctx.dovecot_hib.started:
        ctx.dovecot_hib.start()
    log(f"{wl.number} {wl.title}: {', '.join(active)}")
    try:
        wl.prepare(active)
        for rep in range(reps):
            order = active if rep % 2 == 0 else active[::-1]
            for system in order:
                t0 = time.monotonic()
                try:
                    figs = wl.run(system, rep)
                except Exception as e:
                    log(f"{wl.key}: {system} rep {rep}: FAILED: {e}")
                    res.note(wl.title, system, f"rep {rep} failed: {e}", error=True)
                    figs = e.figs if isinstance(e, Partial) else []
                for metric, value, unit, better, extra in figs:
                    res.add(wl.title, metric, system, rep, value, unit, better, extra)
                    log(f"  rep {rep} {system:11s} {metric}: {value:.4g} {unit}")
                util.debug(f"{system} rep {rep}: {time.monotonic() - t0:.1f}s")
    finally:
        wl.finish(active)
        if ctx.dovecot_hib and ctx.dovecot_hib.started:
            ctx.dovecot_hib.stop()


def main(argv):
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    ap.add_argument("workloads", nargs="*",
                    help="smtp e2e imap idle imapstress pop3 limits crypt jmap jmapidle "
                    "frontends, or 1-9")
    ap.add_argument("--quick", action="store_true", help="small counts, one repetition")
    ap.add_argument("--reps", type=int, help="repetitions (default 3; --quick 1)")
    ap.add_argument("--idle-conns", metavar="N,N", help="connection counts of the idle "
                    "workload (default 500,5000; --quick 10)")
    ap.add_argument("--results", help="JSON-lines file to append to")
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    ap.add_argument("--table", metavar="FILE", help="print the table of the last run in FILE "
                    "(a results file) and exit")
    ap.add_argument("--markdown", action="store_true", help="with --table: as Markdown")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    util.VERBOSE = a.verbose
    if a.table:
        res = Results.load(a.table)
        m = res.meta
        print(f"run {res.run_id} of {m.get('commit')}: {m.get('cpus')} CPUs ({m.get('cpu')}), "
              f"{m.get('mem_mb')} MB, kernel {m.get('kernel')}, {m['params']['reps']} repetition(s)")
        print(res.markdown() if a.markdown else res.table())
        return 0
    params = dict(QUICK if a.quick else FULL)
    if a.reps:
        params["reps"] = max(1, a.reps)
    if a.idle_conns:
        params["idle_conns"] = tuple(int(n) for n in a.idle_conns.split(","))
    util.raise_fd_limit(2 * max(params["idle_conns"]) + params["push_conns"] + 1024)
    chosen = pick(a.workloads)
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = a.results or os.path.join(HERE, "results", f"{run_id}{'-quick' if a.quick else ''}.jsonl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tree = os.path.dirname(os.path.dirname(os.path.abspath(a.bindir)))
    meta = {**machine_meta(), "quick": a.quick, "params": params, "commit": commit_of(tree),
            "workloads": [w.key for w in chosen]}
    res = Results(path, run_id, meta)

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    tmp = tempfile.mkdtemp(prefix="tern-bench-")
    os.chmod(tmp, 0o755)
    ctx = Context(params, a.bindir, tmp)
    t0 = time.monotonic()
    try:
        need_peers = {s for w in chosen for s, _ in w(ctx).systems()} - {"tern", "machine"}
        ctx.start_all(need_peers)
        for cls in chosen:
            run_workload(ctx, res, cls, params["reps"])
    finally:
        ctx.stop_all()
        if a.keep:
            log(f"kept {tmp}")
        # the table first: removing 300,000 files takes a while
        print(f"tern bench {run_id} ({'quick, ' if a.quick else ''}{params['reps']} "
              f"repetition(s), {meta['cpus']} CPUs, {meta['cpu']}; "
              f"{time.monotonic() - t0:.0f} s)")
        print(res.table())
        print(f"results: {path}", flush=True)
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if res.errors else 0
