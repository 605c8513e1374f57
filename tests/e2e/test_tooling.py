"""Build and install tooling: which Debian packages each make target installs."""
import os
import shutil
import subprocess

import pytest

from conftest import TERN_BIN, Instance

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PEERS = {"postfix", "dovecot-imapd", "dovecot-pop3d", "dovecot-core"}
TEST_TOOLS = {"clang", "python3-pytest", "swaks", "fetchmail", "isync", "dnsmasq-base"}


def deps_command(target):
    """The tools/deps.sh command line `make TARGET` runs (make -n prints it)."""
    p = subprocess.run(["make", "-n", "-C", REPO, target], capture_output=True, text=True,
                       timeout=60)
    lines = [l.strip() for l in p.stdout.splitlines() if "tools/deps.sh" in l]
    assert len(lines) == 1, p.stdout + p.stderr
    return lines[0].split()


def would_install(target, tmp_path):
    """Packages the dependency step of `make TARGET` would install on a machine
    where none is installed yet (dpkg-query finds nothing)."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")
    (fake / "dpkg-query").chmod(0o755)
    cmd = deps_command(target)
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}")
    p = subprocess.run(["sh", os.path.join(REPO, cmd[0]), *cmd[1:], "--print"], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def test_make_run_installs_no_test_or_bench_peers(tmp_path):
    pkgs = would_install("run", tmp_path)
    assert {"gcc", "libssl-dev", "libdb-dev", "libspf2-dev", "libevent-dev"} <= pkgs
    assert not pkgs & PEERS, pkgs & PEERS
    assert not pkgs & TEST_TOOLS, pkgs & TEST_TOOLS


def test_make_check_and_bench_add_their_tools(tmp_path):
    run = would_install("run", tmp_path)
    check = would_install("check", tmp_path)
    bench = would_install("bench", tmp_path)
    assert run < check and run < bench
    assert TEST_TOOLS <= check and "postfix" in check      # smtp-sink, smtp-source
    assert {"postfix", "dovecot-imapd", "dovecot-pop3d"} <= bench


def test_deps_print_changes_nothing_when_all_installed():
    """On this machine (make check ran the step) nothing of the run set is missing."""
    p = subprocess.run([os.path.join(REPO, "tools", "deps.sh"), "run", "--print"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "", p.stdout


# ------------------------------------------------------------------ etc/

ETC = os.path.join(REPO, "etc")


def print_config(name):
    """What the program itself prints as NAME.conf's documented defaults."""
    if name == "tern":
        argv = [os.path.join(TERN_BIN, "mailctl"), "init", "--print-config"]
    else:
        argv = [os.path.join(TERN_BIN, f"tern-{name}"), "--print-config"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_etc_is_what_the_programs_print(tmp_parent):
    """etc/NAME.conf for every config file `mailctl init` writes, each equal to
    the program's --print-config (regenerate with `make etc`)."""
    inst = Instance(tmp_parent)
    inst.init()
    made = sorted(f for f in os.listdir(inst.dir) if f.endswith(".conf"))
    assert sorted(os.listdir(ETC)) == made
    for f in made:
        name = f[:-len(".conf")]
        with open(os.path.join(ETC, f)) as fh:
            assert fh.read() == print_config(name), f"etc/{f} differs: run `make etc`"


def test_make_install_installs_etc(tmp_path):
    """make install puts etc/*.conf where INSTALL says, unchanged. Runs the
    install step make runs (make -n shows it) with the binaries under test,
    into a DESTDIR, without make's rebuild."""
    p = subprocess.run(["make", "-n", "-C", REPO, "install"], capture_output=True, text=True,
                       timeout=60)
    assert any("tools/install.sh" in l for l in p.stdout.splitlines()), p.stdout
    dest = tmp_path / "root"
    p = subprocess.run([os.path.join(REPO, "tools", "install.sh"), str(dest), "/usr/local/sbin",
                        "/usr/local/lib/tern", "/usr/local/share/man", TERN_BIN],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    share = dest / "usr" / "local" / "share" / "tern"
    assert sorted(os.listdir(share)) == sorted(os.listdir(ETC))
    for f in os.listdir(ETC):
        with open(os.path.join(ETC, f)) as a:
            assert (share / f).read_text() == a.read(), f
