"""Install the peers (Debian's Postfix and Dovecot) when missing, without
letting their packages configure or start a system instance."""
import os
import subprocess

from util import log, run

PACKAGES = ["postfix", "dovecot-imapd", "dovecot-pop3d"]
POLICY = "/usr/sbin/policy-rc.d"


def _installed(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", pkg],
                       capture_output=True, text=True)
    return p.stdout.strip() == "installed"


def ensure_peers():
    """Returns None when all peers are installed, else a reason string."""
    missing = [p for p in PACKAGES if not _installed(p)]
    if not missing:
        return None
    if os.geteuid() != 0:
        return "not root: cannot install " + " ".join(missing)
    log("installing " + " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # postfix: configure nothing; policy-rc.d 101: start no daemon (we run
    # private instances only, never the system one).
    run(["debconf-set-selections"], input="postfix postfix/main_mailer_type select "
        "No configuration\n")
    made_policy = not os.path.exists(POLICY)
    if made_policy:
        with open(POLICY, "w") as f:
            f.write("#!/bin/sh\n# tern bench: no service starts during install\nexit 101\n")
        os.chmod(POLICY, 0o755)
    try:
        run(["apt-get", "update", "-qq"], timeout=300, check=False, env=env)
        p = run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                timeout=600, check=False, env=env)
        if p.returncode != 0:
            return "apt-get install failed: " + p.stderr.strip()[-300:]
    finally:
        if made_policy:
            os.unlink(POLICY)
    still = [p for p in PACKAGES if not _installed(p)]
    return ("still missing: " + " ".join(still)) if still else None
