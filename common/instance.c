/* instance.c — tern.conf: paths, hostname, ports, logging, DNS. */
#include "common/instance.h"
#include "common/cfgcheck.h"
#include "common/dns.h"
#include "common/netlist.h"
#include "common/site.h"
#include "common/util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct cfg_key tern_settings[] = {
	CFG_KEY_STR("hostname", "localhost", cfg_check_domain, "Fully qualified name of this mail host (greeting, Received, DSNs)"),
	CFG_KEY_INT("port_base", "0", 0, 65535 - PORT_POP3S, "Each listening port is port_base + its standard number (25, 587, 465, 110, 995, 143, 993, 80, 443)"),
	CFG_KEY_LIST("listen", "0.0.0.0", cfg_check_ip, "Addresses the network daemons listen on (comma-separated)"),
	CFG_KEY_PATH("spool_dir", "spool", "Queue: message files and their Berkeley DB index (owned by queued)"),
	CFG_KEY_PATH("mail_dir", "mail", "Mail store: MAIL/DOMAIN/LOCALPART/ Maildir++ (owned by the mail store account)"),
	CFG_KEY_PATH("db_dir", "db", "User, domain and alias databases (read only by the auth service), when directory = bdb; the auth service's own state in any case"),
	CFG_KEY_ENUM("directory", "bdb", "bdb,pgsql", "Where domains, users and aliases live: bdb (Berkeley DB maps in db_dir, one host) or pgsql (a PostgreSQL database shared by the hosts of a site)"),
	CFG_KEY_STR("directory_pgsql", "", NULL, "directory = pgsql: libpq connection string, e.g. \"host=10.0.0.5 dbname=tern user=tern sslmode=require\" (no password here; as root the auth service runs chrooted in db_dir, so give host as an IP address)"),
	CFG_KEY_STR("directory_password_file", "", NULL, "directory = pgsql: file whose first line is the database password (relative to this directory; read as root before dropping privileges; keep it 0600); empty: none"),
	CFG_KEY_MSEC("directory_timeout", "5s", 100, 60000, "directory = pgsql: longest wait for a connection or an answer; past it the lookup fails temporarily (SMTP 4xx, login 'try later'), never as 'no such user'"),
	CFG_KEY_ENUM("role", "both", "both,frontend,mailbox", "What this host does in a site of several (docs/SCALING.md): both (one host: receives, stores and serves mail), frontend (receives mail and logins for users whose mailbox host is another host; stores none; needs directory = pgsql) or mailbox (stores and serves the mail of the users the directory places here)"),
	CFG_KEY_STR("mailbox_host_name", "", site_host_name_check, "This host's name as the directory names users' mailbox hosts (mailctl user add --host); a user with this host or none is stored here (empty: hostname)"),
	CFG_KEY_LIST("mailbox_hosts", "", site_host_item_check, "role = frontend: the mailbox hosts and their internal ports, NAME=ADDRESS:PORT (an IP address; [IPv6]:PORT), comma-separated; NAME as the directory spells it. On a mailbox host: the hosts its users may be moved to (mailctl user move), where its queue then sends their mail"),
	CFG_KEY_STR("site_secret_file", "", NULL, "role = frontend or mailbox: file whose first line is the secret the hosts of a site share (relative to this directory; read as root before dropping privileges; keep it 0600). A front-end's queue gives it (AUTH PLAIN as \"site\", inside TLS) at a mailbox host's internal port (port_base + 24), which takes mail there only after it; empty: none, and the internal port takes no mail"),
	CFG_KEY_ENUM("site_tls", "none", "none,verify", "TLS on the hops between the hosts of a site (docs/SCALING.md): none (the relay hop uses TLS when offered, unverified; the IMAP and POP3 proxies speak in clear) or verify (every hop in TLS, the mailbox host's certificate checked against site_ca_file alone and for its name in mailbox_hosts; a hop that cannot give that waits or fails temporarily, never clear text; a mailbox host takes the site secret only inside TLS)"),
	CFG_KEY_STR("site_ca_file", "", NULL, "site_tls = verify: the site's own CA certificate(s) (PEM, relative to this directory), the only trust anchor for the mailbox hosts' certificates; needed on a host with mailbox_hosts"),
	CFG_KEY_STR("site_copy_command", "", NULL, "role = mailbox or both: the command `mailctl user move ADDRESS HOST` runs to copy a Maildir to HOST (split at spaces, no shell; %h the host's name, %a its address from mailbox_hosts); it must run `mailctl user receive` on that host with its stdin, e.g. \"ssh -T -o BatchMode=yes root@%a mailctl user receive\"; empty: users cannot be moved from this host"),
	CFG_KEY_LIST("site_frontends", "", netlist_check, "role = mailbox: the front-ends' addresses (CIDR, comma-separated) that may connect to the internal port (port_base + 24); any other client is refused there at connect"),
	CFG_KEY_PATH("run_dir", "run", "Pid files and the Unix sockets between daemons"),
	CFG_KEY_PATH("log_dir", "log", "Log files when log = file"),
	CFG_KEY_ENUM("log", "syslog", "syslog,file", "Where daemons log: syslog (mail facility) or file (log_dir/tern.log)"),
	CFG_KEY_ENUM("log_level", "info", "error,warning,info,debug", "Least severe level logged"),
	CFG_KEY_STR("dns_server", "", dns_server_check, "Send every DNS query to HOST:PORT (an IPv4 address) instead of the servers in /etc/resolv.conf"),
	CFG_KEY_TIME("restart_backoff_max", "60s", 1, 86400, "Longest wait before the master restarts a daemon that keeps dying"),
	CFG_KEY_TIME("dmarc_report_interval", "24h", 0, 30 * 86400, "The master runs `mailctl dmarc report` this often (DMARC aggregate reports, RFC 7489 7.2; 0 = never)"),
	CFG_KEY_TIME("tlsrpt_report_interval", "24h", 0, 30 * 86400, "The master runs `mailctl tlsrpt report` this often (TLS reports on outbound TLS, RFC 8460; 0 = never)"),
	CFG_KEY_TIME("dkim_rotate_interval", "24h", 0, 30 * 86400, "The master takes the `mailctl dkim rotate` steps this often for every domain with a staged or retiring selector: it switches (and reloads) once the staged record is in DNS and retires the old one after its grace period; it never stages a key itself (0 = never)"),
	CFG_KEY_STR("tlsrpt_report_from", "", cfg_check_address, "Sender of TLS reports (empty: noreply-tlsrpt@hostname)"),
	CFG_KEY_STR("dmarc_report_from", "", cfg_check_address, "Sender of DMARC aggregate reports (empty: noreply-dmarc@hostname)"),
	CFG_KEY_ENUM("mta_sts_mode", "none", "none,testing,enforce", "MTA-STS policy (RFC 8461) published for the local domains: none, testing (senders report, still deliver) or enforce (senders require authenticated TLS to the MX); `mailctl dns` prints its records"),
	CFG_KEY_TIME("mta_sts_max_age", "7d", 1, 31557600, "How long senders may cache the MTA-STS policy (max_age, RFC 8461 3.2)"),
	CFG_KEY_ENUM("encrypt_failure", "defer", "defer,deliver_clear", "Encryption at rest: mail for a user whose key (mailctl user key) is expired, unreadable or unusable waits in the queue (defer), or is stored in clear with a warning logged (deliver_clear)"),
	CFG_KEY_BOOL("encrypt_keep_subject", "no", "Encryption at rest: leave the real Subject outside the encrypted part too (default: \"[...]\" outside, RFC 9788 header protection)"),
	CFG_KEY_BOOL("encrypt_append", "yes", "Encryption at rest: also encrypt what a user with a key stores over IMAP APPEND or JMAP Email/set (Sent, Drafts, ...)"),
	CFG_KEY_ENUM("encrypt_smime_cipher", "aes256-cbc", "aes256-cbc,aes256-gcm", "Encryption at rest, S/MIME: aes256-cbc (EnvelopedData, read by every client) or aes256-gcm (AuthEnvelopedData, RFC 8551's choice; check your users' clients)"),
	CFG_KEY_END,
};

const char *instance_default_dir(const char *explicit_dir)
{
	if (explicit_dir && *explicit_dir)
		return explicit_dir;
	const char *env = getenv("TERN_CONFIG");
	if (env && *env)
		return env;
	return "/etc/tern";
}

int instance_load(struct instance *in, const char *dir, struct cfg_errors *errs)
{
	char abs[PATH_MAX];
	memset(in, 0, sizeof *in);
	if (!realpath(dir, abs)) {
		cfg_error(errs, "%s: no such instance directory (create one with `mailctl init %s`)",
			  dir, dir);
		return -1;
	}
	in->dir = xstrdup(abs);
	char *path = xasprintf("%s/tern.conf", in->dir);
	int r = cfg_load(&in->conf, tern_settings, path, in->dir, errs);
	free(path);
	in->hostname = xstrdup(cfg_str(&in->conf, "hostname"));
	in->port_base = (unsigned)cfg_int(&in->conf, "port_base");
	in->spool_dir = cfg_path(&in->conf, "spool_dir");
	in->mail_dir = cfg_path(&in->conf, "mail_dir");
	in->db_dir = cfg_path(&in->conf, "db_dir");
	in->run_dir = cfg_path(&in->conf, "run_dir");
	in->log_dir = cfg_path(&in->conf, "log_dir");
	return r;
}

void instance_free(struct instance *in)
{
	cfg_free(&in->conf);
	free(in->dir);
	free(in->hostname);
	free(in->spool_dir);
	free(in->mail_dir);
	free(in->db_dir);
	free(in->run_dir);
	free(in->log_dir);
	memset(in, 0, sizeof *in);
}

int instance_conf(const struct instance *in, const char *name, const struct cfg_key *schema,
		  struct cfg *out, struct cfg_errors *errs)
{
	char *path = xasprintf("%s/%s.conf", in->dir, name);
	int r = cfg_load(out, schema, path, in->dir, errs);
	free(path);
	return r;
}

char *instance_sock(const struct instance *in, const char *name)
{
	return xasprintf("%s/%s.sock", in->run_dir, name);
}
