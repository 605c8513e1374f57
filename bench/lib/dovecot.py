"""A private Dovecot instance (`dovecot -c DIR/dovecot.conf`): own base_dir
and state_dir, IMAP and POP3 on loopback ports of its own, no TLS (loopback
only, as tern is configured in the bench), passwd-file passdb with the same
yescrypt hashes tern stores, static userdb, Maildir under DIR/mail.

Stock settings except what the idle workloads need (process and client
limits above the most connections a workload opens, the per-user-per-IP
connection limit equal to tern's per-user limit). `hibernate=True` adds
Dovecot's IMAP hibernation (idle IDLE sessions are moved into one
imap-hibernate process) as its documentation describes."""
import os

from util import (cpu_seconds, alive, kill_tree, port_open, process_tree, read_pidfile, run,
                  run_detached, wait_for)

CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = bench-dovecot-{port_base}
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {dir}/dovecot.log
mail_location = maildir:{dir}/mail/%d/%n
first_valid_uid = {uid}
mail_max_userip_connections = {per_user}
default_process_limit = {process_limit}
default_client_limit = {client_limit}
passdb {{
  driver = passwd-file
  args = scheme=CRYPT {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/mail/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""

HIBERNATE = """\
imap_hibernate_timeout = 5s
service imap {
  unix_listener imap-master {
    user = $default_internal_user
  }
  extra_groups = $default_internal_group
}
service imap-hibernate {
  unix_listener imap-hibernate {
    mode = 0660
    group = $default_internal_group
  }
}
"""


class Dovecot:
    def __init__(self, parent, port_base, domain, users, account, per_user=20, conns=1000,
                 hibernate=False, mail_root=None):
        self.name = "dovecot+hib" if hibernate else "dovecot"
        self.dir = os.path.join(parent, self.name.replace("+", "-"))
        self.port_base = port_base
        self.domain = domain
        self.users = users                      # {address: (password, hash)}
        self.account = account
        self.per_user = per_user
        self.conns = conns                      # the most connections a workload opens
        self.hibernate = hibernate
        self.imap_port = port_base + 143
        self.pop3_port = port_base + 110
        self.mail_root = mail_root or os.path.join(self.dir, "mail")
        self.started = False

    def maildir(self, address):
        local, dom = address.split("@")
        return os.path.join(self.mail_root, dom, local)

    def setup(self):
        for sub in ("run", "state"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        os.chmod(self.dir, 0o755)
        if not os.path.islink(os.path.join(self.dir, "mail")) and \
                self.mail_root != os.path.join(self.dir, "mail"):
            os.symlink(self.mail_root, os.path.join(self.dir, "mail"))
        conf = CONF.format(dir=self.dir, port_base=self.port_base, uid=self.account.pw_uid,
                           gid=self.account.pw_gid, per_user=self.per_user,
                           process_limit=max(1100, self.conns + 200),
                           client_limit=max(4000, self.conns + 1000),
                           imap=self.imap_port, pop3=self.pop3_port)
        if self.hibernate:
            conf += HIBERNATE
        with open(os.path.join(self.dir, "dovecot.conf"), "w") as f:
            f.write(conf)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for addr, (_, hashed) in self.users.items():
                f.write(f"{addr}:{hashed}\n")
        for addr in self.users:
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(self.maildir(addr), sub), exist_ok=True)
        for root, dirs, _ in os.walk(self.mail_root):
            os.chown(root, self.account.pw_uid, self.account.pw_gid)

    def mail_owner(self):
        return self.account.pw_uid, self.account.pw_gid

    def conf(self):
        return os.path.join(self.dir, "dovecot.conf")

    def start(self):
        self.setup()
        run_detached(["/usr/sbin/dovecot", "-c", self.conf()],
                     os.path.join(self.dir, "start.log"))
        self.started = True
        ok = wait_for(lambda: port_open(self.imap_port) and port_open(self.pop3_port), 30)
        if not ok:
            raise RuntimeError("dovecot did not listen: " + self.log_tail())

    def master_pid(self):
        return read_pidfile(os.path.join(self.dir, "run", "master.pid"))

    def cpu(self):
        """CPU seconds used so far by the whole instance (util.cpu_seconds)."""
        p = self.master_pid()
        return cpu_seconds(p) if p else 0.0

    def pids(self):
        p = self.master_pid()
        return process_tree([p]) if p else []

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        run(["/usr/sbin/dovecot", "-c", self.conf(), "stop"], timeout=60, check=False)
        if pid:
            wait_for(lambda: not alive(pid), 10)
            kill_tree([pid])
        self.started = False

    def drop_index(self, address):
        """Remove Dovecot's index, cache, log and uidlist files (cold open)."""
        md = self.maildir(address)
        for n in os.listdir(md):
            if n.startswith("dovecot"):
                os.unlink(os.path.join(md, n))
        return True

    def log_tail(self, n=3000):
        try:
            with open(os.path.join(self.dir, "dovecot.log"), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no log)"
