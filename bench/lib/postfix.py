"""A private Postfix instance (`postfix -c DIR`): its own queue and data
directories, smtpd on loopback ports of its own, virtual mailbox domain with
Maildir delivery into DIR/mail, stock durability (cleanup and virtual fsync).

Two smtpd listeners: `smtp_port` delivers normally; `hold_port` puts every
accepted message on hold (the queue manager never sees it), the counterpart of
tern's `mailctl queue pause` for the pure accept-rate workload."""
import os

from util import cpu_seconds, alive, kill_tree, port_open, read_pidfile, run, run_detached, wait_for

MAIN_CF = """\
compatibility_level = 3.6
config_directory = {dir}
queue_directory = {dir}/queue
data_directory = {dir}/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.{domain}
mydomain = {domain}
myorigin = $myhostname
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery in the bench instance
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
relay_domains =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {dir}/mail
virtual_mailbox_maps = texthash:{dir}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
message_size_limit = 52428800
default_process_limit = 200
biff = no
append_dot_mydomain = no
smtputf8_enable = no
maillog_file_prefixes = /var, /dev/stdout, {dir}
maillog_file = {dir}/maillog
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C
"""

MASTER_CF = """\
127.0.0.1:{smtp}   inet n - n - - smtpd
127.0.0.1:{hold}   inet n - n - - smtpd -o {{ smtpd_data_restrictions = check_client_access static:HOLD }}
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
local     unix - n n - - local
virtual   unix - n n - - virtual
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    name = "postfix"

    def __init__(self, parent, port_base, domain, users, account):
        self.dir = os.path.join(parent, "postfix")
        self.domain = domain
        self.users = users                      # {address: password}
        self.uid, self.gid = account.pw_uid, account.pw_gid
        self.smtp_port = port_base + 25
        self.hold_port = port_base + 26
        self.started = False

    def maildir(self, address):
        local, dom = address.split("@")
        return os.path.join(self.dir, "mail", dom, local)

    def _write(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def setup(self):
        os.makedirs(os.path.join(self.dir, "mail", self.domain), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "queue"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        os.chmod(self.dir, 0o755)
        kw = dict(dir=self.dir, domain=self.domain, uid=self.uid, gid=self.gid)
        self._write("main.cf", MAIN_CF.format(**kw))
        self._write("master.cf", MASTER_CF.format(smtp=self.smtp_port, hold=self.hold_port))
        self._write("vmailbox", "".join(f"{a} {a.split('@')[1]}/{a.split('@')[0]}/\n"
                                        for a in self.users))
        os.chown(os.path.join(self.dir, "data"), self._postfix_uid(), 0)
        # `postfix check` makes the queue directories; it also runs one postlog
        # per file not owned by root under the instance, which for 25 users'
        # Maildirs took over 60 s on a loaded machine (7 December): so it runs
        # before they exist, and quick-start spares `postfix start` a second
        # check.
        run(["/usr/sbin/postfix", "-c", self.dir, "check"], timeout=300)
        open(os.path.join(self.dir, "queue", "quick-start"), "w").close()
        # virtual(8) creates the Maildir on first delivery; make it now so
        # readers (and the bench's watchers) can open it before any mail.
        for a in self.users:
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(self.maildir(a), sub), exist_ok=True)
        for root, dirs, _ in os.walk(os.path.join(self.dir, "mail")):
            os.chown(root, self.uid, self.gid)
            os.chmod(root, 0o700 if root != os.path.join(self.dir, "mail") else 0o755)

    @staticmethod
    def _postfix_uid():
        import pwd
        return pwd.getpwnam("postfix").pw_uid

    def start(self):
        self.setup()
        run_detached(["/usr/sbin/postfix", "-c", self.dir, "start"],
                     os.path.join(self.dir, "start.log"))
        self.started = True
        ok = wait_for(lambda: port_open(self.smtp_port) and port_open(self.hold_port), 30)
        if not ok:
            raise RuntimeError("postfix did not listen: " + self.log_tail())

    def master_pid(self):
        return read_pidfile(os.path.join(self.dir, "queue", "pid", "master.pid"))

    def cpu(self):
        """CPU seconds used so far by the whole instance (util.cpu_seconds)."""
        p = self.master_pid()
        return cpu_seconds(p) if p else 0.0

    def pids(self):
        from util import process_tree
        p = self.master_pid()
        return process_tree([p]) if p else []

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        run(["/usr/sbin/postfix", "-c", self.dir, "stop"], timeout=60, check=False)
        if pid:
            wait_for(lambda: not alive(pid), 10)
            kill_tree([pid])
        self.started = False

    def hold_count(self):
        d = os.path.join(self.dir, "queue", "hold")
        return len(os.listdir(d)) if os.path.isdir(d) else 0

    def clear_hold(self):
        run(["/usr/sbin/postsuper", "-c", self.dir, "-d", "ALL", "hold"], timeout=120,
            check=False)

    def log_tail(self, n=3000):
        try:
            with open(os.path.join(self.dir, "maillog"), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no maillog)"
