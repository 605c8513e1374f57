/* daemon.c — daemon start-up: arguments, instance, logging, inherited fds. */
#include "common/daemon.h"
#include "common/log.h"
#include "common/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char secret[32];
static bool have_secret;

static int env_fd(const char *var)
{
	const char *v = getenv(var);
	uint64_t n;
	if (!v || !parse_u64(v, 1 << 20, &n))
		return -1;
	return (int)n;
}

void daemon_init(const char *name, int argc, char **argv, struct instance *in)
{
	const char *dir = NULL;
	int opt;
	bool fg = false;
	log_init(name, "stderr");
	while ((opt = getopt(argc, argv, "c:f")) != -1) {
		switch (opt) {
		case 'c': dir = optarg; break;
		case 'f': fg = true; break;
		default:
			fprintf(stderr, "usage: tern-%s [-f] -c DIR (normally started by `mailctl start`)\n", name);
			exit(2);
		}
	}
	struct cfg_errors errs = { 0 };
	if (instance_load(in, instance_default_dir(dir), &errs) < 0) {
		for (int i = 0; i < errs.count; i++)
			log_err("%s", errs.msg[i]);
		exit(1);
	}
	const char *lvl = cfg_str(&in->conf, "log_level");
	log_set_level(!strcmp(lvl, "error") ? LOG_LVL_ERR : !strcmp(lvl, "warning") ? LOG_LVL_WARN :
		      !strcmp(lvl, "debug") ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	int lfd = env_fd("TERN_LOG_FD");
	if (!fg && lfd >= 0) {
		log_use_fd(lfd);
		fd_cloexec(lfd);
	} else if (!fg && !strcmp(cfg_str(&in->conf, "log"), "syslog")) {
		log_init(name, "syslog");
	} else if (!fg && !strcmp(cfg_str(&in->conf, "log"), "file")) {
		char *p = xasprintf("%s/tern.log", in->log_dir);
		if (log_init(name, p) < 0)
			log_warn("cannot open %s; logging to stderr", p);
		free(p);
	}
	int sfd = env_fd("TERN_SECRET_FD");
	if (sfd >= 0) {
		have_secret = read_full(sfd, secret, sizeof secret) == 0;
		close(sfd);
	}
	signal(SIGPIPE, SIG_IGN);
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
	return have_secret ? secret : NULL;
}
