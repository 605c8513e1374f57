/* cmd_dkim.c — `mailctl dkim keygen DOMAIN [--selector S] [--algorithm rsa|ed25519]`
 * and `mailctl dkim rotate DOMAIN [--selector S] [--algorithm A] [--grace DAYS]`.
 *
 * keygen writes DIR/dkim/DOMAIN/SELECTOR.key (mode 0600, owned by the remote
 * delivery account when run as root: the only process that signs), records the
 * TXT value in SELECTOR.txt beside it, and prints the DNS record to publish.
 * rotate takes the domain one step along its key rotation (dkim_rotate.h) and,
 * when signing moves to the new key, has a running instance reload. */
#include "mailctl/commands.h"
#include "mailctl/control.h"
#include "mailctl/dkim_rotate.h"
#include "mailctl/runstate.h"
#include "deliverd/deliverd.h"
#include "common/dns.h"
#include "common/dkim.h"
#include "common/instance.h"
#include "common/log.h"
#include "common/util.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DKIM_USAGE "dkim keygen|rotate DOMAIN [--selector S] [--algorithm rsa|ed25519] " \
	"[--grace DAYS (rotate)] | dkim rotate --scheduled"
#define RELOAD_TIMEOUT_MS 180000

static int valid_label_text(const char *s)
{
	if (!*s || strlen(s) > 253)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
			return 0;
	return 1;
}

/* After a switch: a running instance restarts its remote agent, which reads
 * the keys only when it starts. */
static void reload_signer(const struct instance *in)
{
	char *text = NULL;
	if (!master_running(in->run_dir))
		printf("the instance is not running: it signs with the new key when started\n");
	else if (ctl_request(in->run_dir, CTL_RELOAD, RELOAD_TIMEOUT_MS, &text) == 0)
		printf("reloaded: the remote delivery agent signs with the new key\n");
	else
		cmd_error("reload failed (%s): run `mailctl reload` to sign with the new key",
			  text ? text : "the master did not answer");
	free(text);
}

struct args {
	const char *domain;
	bool rotate;
	bool scheduled;		/* the master's run: every pending domain, into the log */
	struct dkim_rotate_opts o;
};

/* One rotation step; what deliverd.conf's dkim_selectors names for the
 * domain goes with it. The exit status. */
static int rotate(const struct instance *in, const char *ddir, const struct args *a)
{
	struct dkim_rotate_opts o = a->o;
	char **sel = NULL;
	size_t nsel = 0;
	struct cfg c;
	struct cfg_errors errs = { 0 };
	char *conf = xasprintf("%s/deliverd.conf", in->dir);
	if (instance_conf(in, "deliverd", deliverd_settings, &c, &errs) == 0)
		nsel = cfg_list(&c, "dkim_selectors", &sel);
	cfg_free(&c);
	o.named = deliverd_dkim_selector(a->domain, sel, nsel);
	o.conf_path = conf;
	enum dkim_rotate_state st = dkim_rotate(ddir, a->domain, &o);
	if (st == DKIM_ROT_SWITCHED)
		reload_signer(in);
	cfg_list_free(sel, nsel);
	free(conf);
	return st == DKIM_ROT_ERROR || st == DKIM_ROT_BLOCKED ? 1 : st == DKIM_ROT_TEMPFAIL ? 75 : 0;
}

/* One domain's step with what it prints going to the log, line by line. */
static int rotate_logged(const struct instance *in, const char *ddir, struct args *a)
{
	char *text = NULL;
	size_t len = 0;
	FILE *saved = stdout, *mem = open_memstream(&text, &len);
	if (!mem)
		return 1;
	stdout = mem;
	int rc = rotate(in, ddir, a);
	fclose(mem);
	stdout = saved;
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (rc)
			log_warn("dkim rotate: %s: %s", a->domain, l);
		else
			log_info("dkim rotate: %s: %s", a->domain, l);
	}
	free(text);
	return rc;
}

/* `dkim rotate --scheduled`: a step for every domain with a staged or
 * retiring selector; none is staged here. The worst exit status. */
static int rotate_scheduled(const struct instance *in, struct args *a)
{
	char *root = xasprintf("%s/dkim", in->dir);
	struct dirent **ents = NULL;
	int n = scandir(root, &ents, NULL, alphasort), rc = 0;
	for (int i = 0; i < n; i++) {
		char *ddir = xasprintf("%s/%s", root, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && dkim_rotate_pending(ddir)) {
			a->domain = ents[i]->d_name;
			int r = rotate_logged(in, ddir, a);
			rc = r > rc ? r : rc;
		}
		free(ddir);
		free(ents[i]);
	}
	free(ents);
	free(root);
	a->domain = NULL;
	return rc;
}

static int run(const char *dir, struct args *a)
{
	struct instance in;
	struct cfg_errors errs = { 0 };
	if (instance_load(&in, instance_default_dir(dir), &errs) < 0 && !in.dir)
		return cmd_error("%s", errs.msg[0]);
	char *ddir = a->domain ? xasprintf("%s/dkim/%s", in.dir, a->domain) : NULL;
	int rc = 0;
	if (!a->rotate) {
		rc = dkim_write_key(ddir, a->domain, a->o.selector, ".key", a->o.alg) < 0;
	} else if (dns_init(cfg_str(&in.conf, "dns_server"), 5) < 0) {
		rc = cmd_error("bad dns_server in tern.conf");
	} else if (a->scheduled) {
		rc = rotate_scheduled(&in, a);
	} else {
		rc = rotate(&in, ddir, a);
	}
	free(ddir);
	instance_free(&in);
	return rc;
}

static int parse(int argc, char **argv, struct args *a)
{
	const char *alg = "rsa";
	uint64_t days = DKIM_GRACE_DAYS;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--selector") && i + 1 < argc)
			a->o.selector = argv[++i];
		else if (!strcmp(argv[i], "--algorithm") && i + 1 < argc)
			alg = argv[++i];
		else if (a->rotate && !strcmp(argv[i], "--grace") && i + 1 < argc &&
			 parse_u64(argv[i + 1], 3650, &days))
			i++;
		else if (a->rotate && !strcmp(argv[i], "--scheduled"))
			a->scheduled = true;
		else if (argv[i][0] != '-' && !a->domain)
			a->domain = argv[i];
		else
			return cmd_error("unexpected argument %s; usage: mailctl %s", argv[i], DKIM_USAGE);
	}
	const char *sel = a->o.selector;
	if (a->scheduled && (a->domain || sel))
		return cmd_error("--scheduled takes every domain with a staged or retiring selector");
	if ((!a->scheduled && !a->domain) || (a->domain && !valid_label_text(a->domain)) ||
	    (sel && (!valid_label_text(sel) || strchr(sel, '.'))))
		return cmd_error("need a domain name and a selector of letters, digits and '-'");
	if (strcmp(alg, "rsa") && strcmp(alg, "ed25519"))
		return cmd_error("--algorithm must be rsa or ed25519, not %s", alg);
	a->o.alg = strcmp(alg, "rsa") ? DKIM_ALG_ED25519 : DKIM_ALG_RSA;
	a->o.grace = days * 86400;
	a->o.now = (uint64_t)time(NULL);
	return 0;
}

int cmd_dkim(const char *dir, int argc, char **argv)
{
	if (cmd_wants_help(argc, argv, DKIM_USAGE))
		return 0;
	struct args a = { 0 };
	if (argc < 3 || (strcmp(argv[1], "keygen") && strcmp(argv[1], "rotate")))
		return cmd_error("usage: mailctl [-c DIR] %s", DKIM_USAGE);
	a.rotate = !strcmp(argv[1], "rotate");
	if (parse(argc, argv, &a))
		return 1;
	if (!a.rotate && !a.o.selector)
		a.o.selector = "tern";
	if (a.scheduled)	/* stderr is the master's log file when it has one */
		log_init("dkim-rotate", getenv("TERN_LOG_FD") ? "stderr" : "syslog");
	char *d = a.domain ? xstrdup(a.domain) : NULL;
	if (d)
		str_lower(d);
	a.domain = d;
	int rc = run(dir, &a);
	free(d);
	return rc;
}
