/* daemon.c — daemon start-up: arguments, instance, logging, inherited fds. */
#include "common/daemon.h"
#include "common/log.h"
#include "common/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A 32-byte key the master passed through a pipe (daemon.h). */
struct run_key {
	const char *var;
	unsigned char bytes[32];
	bool have;
};
static struct run_key secret = { .var = "TERN_SECRET_FD" }, agent_key = { .var = "TERN_AGENT_KEY_FD" };

static int env_fd(const char *var)
{
	const char *v = getenv(var);
	uint64_t n;
	if (!v || !parse_u64(v, 1 << 20, &n))
		return -1;
	return (int)n;
}

static void setup_logging(const char *name, const struct instance *in, bool fg)
{
	const char *lvl = cfg_str(&in->conf, "log_level");
	log_set_level(!strcmp(lvl, "error") ? LOG_LVL_ERR : !strcmp(lvl, "warning") ? LOG_LVL_WARN :
		      !strcmp(lvl, "debug") ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	int lfd = env_fd("TERN_LOG_FD");
	if (fg)
		return;
	if (lfd >= 0) {
		log_use_fd(lfd);
		fd_cloexec(lfd);
	} else if (!strcmp(cfg_str(&in->conf, "log"), "syslog")) {
		log_init(name, "syslog");
	} else {
		char *p = xasprintf("%s/tern.log", in->log_dir);
		if (log_init(name, p) < 0)
			log_warn("cannot open %s; logging to stderr", p);
		free(p);
	}
}

static void read_run_key(struct run_key *k)
{
	int fd = env_fd(k->var);
	if (fd < 0)
		return;
	k->have = read_full(fd, k->bytes, sizeof k->bytes) == 0;
	close(fd);
	unsetenv(k->var);
}

static void usage_exit(const char *name)
{
	fprintf(stderr, "usage: tern-%s [-f] [-c DIR] [--print-config | --check] "
			"(normally started by `mailctl start`)\n", name);
	exit(2);
}

void daemon_init(const char *name, const struct cfg_key *schema, int argc, char **argv,
		 struct instance *in, struct cfg *conf, struct daemon_rest *rest)
{
	const char *dir = NULL;
	bool fg = false, print = false, check = false;
	static char *restv[16];
	int nrest = 0;

	log_init(name, "stderr");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "-f"))
			fg = true;
		else if (!strcmp(argv[i], "--print-config"))
			print = true;
		else if (!strcmp(argv[i], "--check"))
			check = true;
		else if (nrest < (int)ARRAY_LEN(restv) - 1)
			restv[nrest++] = argv[i];
		else
			usage_exit(name);
	}
	if (rest) {
		rest->argc = nrest;
		rest->argv = restv;
	}
	if (print) {
		char *title = xasprintf("%s.conf — settings of tern-%s", name, name);
		int r = cfg_write_defaults(1, title, schema, NULL);
		free(title);
		exit(r == 0 ? 0 : 1);
	}
	struct cfg_errors errs = { 0 };
	instance_load(in, instance_default_dir(dir), &errs);
	if (in->dir)
		instance_conf(in, name, schema, conf, &errs);
	if (check || errs.count) {
		for (int i = 0; i < errs.count; i++) {
			if (check)
				printf("%s\n", errs.msg[i]);
			else
				log_err("%s", errs.msg[i]);
		}
		for (int i = 0; i < errs.nwarn; i++) {
			if (check)
				printf("%s\n", errs.warn[i]);
			else
				log_warn("%s", errs.warn[i]);
		}
		exit(errs.count ? 1 : 0);
	}
	setup_logging(name, in, fg);
	/* The time zone is read now: a chroot hides /etc/localtime later, and a
	 * sandboxed role opens no file for it (common/sandbox.h). */
	tzset();
	for (int i = 0; i < errs.nwarn; i++)
		log_warn("%s", errs.warn[i]);
	read_run_key(&secret);
	read_run_key(&agent_key);
	signal(SIGPIPE, SIG_IGN);
}

void daemon_done(struct instance *in, struct cfg *conf)
{
	cfg_free(conf);
	instance_free(in);
}

int daemon_listen_fd(const char *name)
{
	const char *v = getenv("TERN_LISTEN_FDS");
	size_t n = strlen(name);
	for (const char *p = v; p && *p;) {
		const char *colon = strchr(p, ':');
		if (!colon)
			break;
		if ((size_t)(colon - p) == n && !strncmp(p, name, n))
			return atoi(colon + 1);
		p = strchr(colon, ',');
		if (p)
			p++;
	}
	return -1;
}

int daemon_listen_fds(const char *name, int *fds, int max)
{
	const char *v = getenv("TERN_LISTEN_FDS");
	size_t n = strlen(name);
	int count = 0;
	for (const char *p = v; p && *p;) {
		const char *colon = strchr(p, ':');
		if (!colon)
			break;
		if ((size_t)(colon - p) == n && !strncmp(p, name, n)) {
			if (count < max)
				fds[count] = atoi(colon + 1);
			count++;
		}
		p = strchr(colon, ',');
		if (p)
			p++;
	}
	return count;
}

void daemon_ready(void)
{
	int fd = env_fd("TERN_READY_FD");
	if (fd < 0)
		return;
	(void)write_all(fd, "1", 1);
	close(fd);
	unsetenv("TERN_READY_FD");
}

const unsigned char *daemon_secret(void)
{
	return secret.have ? secret.bytes : NULL;
}

void daemon_forget_keys(void)
{
	explicit_bzero(&secret.bytes, sizeof secret.bytes);
	explicit_bzero(&agent_key.bytes, sizeof agent_key.bytes);
	secret.have = agent_key.have = false;
}

const unsigned char *daemon_agent_key(void)
{
	return agent_key.have ? agent_key.bytes : NULL;
}
