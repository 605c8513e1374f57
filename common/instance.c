/* instance.c — tern.conf: paths, hostname, ports, logging, DNS. */
#include "common/instance.h"
#include "common/util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct cfg_key tern_settings[] = {
	{ "hostname", CFG_STR, "localhost", "Fully qualified name of this mail host (greeting, Received, DSNs)", NULL },
	{ "port_base", CFG_INT, "0", "Each listening port is port_base + its standard number (25, 587, 465, 110, 995, 143, 993, 80, 443)", NULL },
	{ "listen", CFG_LIST, "0.0.0.0", "Addresses the network daemons listen on (comma-separated)", NULL },
	{ "spool_dir", CFG_PATH, "spool", "Queue: message files and their Berkeley DB index (owned by queued)", NULL },
	{ "mail_dir", CFG_PATH, "mail", "Mail store: MAIL/DOMAIN/LOCALPART/ Maildir++ (owned by the mail store account)", NULL },
	{ "db_dir", CFG_PATH, "db", "User, domain and alias databases (read only by the auth service)", NULL },
	{ "run_dir", CFG_PATH, "run", "Pid files and the Unix sockets between daemons", NULL },
	{ "log_dir", CFG_PATH, "log", "Log files when log = file", NULL },
	{ "log", CFG_ENUM, "syslog", "Where daemons log: syslog (mail facility) or file (log_dir/tern.log)", "syslog,file" },
	{ "log_level", CFG_ENUM, "info", "Least severe level logged", "error,warning,info,debug" },
	{ "dns_server", CFG_STR, "", "Send every DNS query to HOST:PORT instead of the servers in /etc/resolv.conf", NULL },
	{ "restart_backoff_max", CFG_TIME, "60s", "Longest wait before the master restarts a daemon that keeps dying", NULL },
	{ "dmarc_report_interval", CFG_TIME, "24h", "The master runs `mailctl dmarc report` this often (DMARC aggregate reports, RFC 7489 7.2; 0 = never)", NULL },
	{ "dmarc_report_from", CFG_STR, "", "Sender of DMARC aggregate reports (empty: noreply-dmarc@hostname)", NULL },
	{ "mta_sts_mode", CFG_ENUM, "none", "MTA-STS policy (RFC 8461) published for the local domains: none, testing (senders report, still deliver) or enforce (senders require authenticated TLS to the MX); `mailctl dns` prints its records", "none,testing,enforce" },
	{ "mta_sts_max_age", CFG_TIME, "7d", "How long senders may cache the MTA-STS policy (max_age, RFC 8461 3.2)", NULL },
	{ NULL, 0, NULL, NULL, NULL },
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
	uint64_t pb = cfg_int(&in->conf, "port_base");
	if (pb > 65535 - PORT_POP3S) {
		cfg_error(errs, "%s/tern.conf: port_base %llu leaves no room for port 995 (max %d)",
			  in->dir, (unsigned long long)pb, 65535 - PORT_POP3S);
		r = -1;
		pb = 0;
	}
	in->port_base = (unsigned)pb;
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
