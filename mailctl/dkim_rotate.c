/* dkim_rotate.c — one step of a domain's DKIM key rotation (dkim_rotate.h):
 * stage, switch once DNS serves the new record, retire after the grace period. */
#include "mailctl/dkim_rotate.h"
#include "mailctl/commands.h"
#include "common/dns.h"
#include "common/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SEL_MAX 128
#define TXT_MAX 4096

bool dkim_txt_key(const char *txt, char *out, size_t len)
{
	char *copy = xstrdup(txt), *save = NULL;
	bool found = false;
	for (char *t = strtok_r(copy, ";", &save); t && !found; t = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(t, '=');
		if (!eq)
			continue;
		*eq = '\0';
		if (strcmp(str_trim(t), "p"))
			continue;
		size_t n = 0;
		for (const char *v = eq + 1; *v && n + 1 < len; v++)
			if (!isspace((unsigned char)*v))
				out[n++] = *v;
		out[n] = '\0';
		found = n > 0;
	}
	free(copy);
	return found;
}

/* A file's text, trimmed, into buf; false if it cannot be read. */
static bool read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	memmove(buf, str_trim(buf), strlen(str_trim(buf)) + 1);
	return true;
}

static char *sel_path(const char *ddir, const char *sel, const char *suffix)
{
	return xasprintf("%s/%s%s", ddir, sel, suffix);
}

/* Each selector with a file NAME<suffix> in ddir, in name order: fn(sel, arg).
 * Returns how many there were. */
static size_t each_selector(const char *ddir, const char *suffix,
			    void (*fn)(const char *sel, void *arg), void *arg)
{
	struct dirent **ents = NULL;
	int n = scandir(ddir, &ents, NULL, alphasort);
	size_t found = 0, sl = strlen(suffix);
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		size_t len = strlen(name);
		if (name[0] != '.' && len > sl && len - sl < SEL_MAX && !strcmp(name + len - sl, suffix)) {
			char sel[SEL_MAX];
			snprintf(sel, sizeof sel, "%.*s", (int)(len - sl), name);
			fn(sel, arg);
			found++;
		}
		free(ents[i]);
	}
	free(ents);
	return found;
}

static void keep_name(const char *sel, void *arg)
{
	strlcpy_t(arg, sel, SEL_MAX);	/* the last one wins: the agent's choice */
}

struct retire_ctx {
	const char *ddir, *domain;
	uint64_t now;
	size_t waiting;		/* selectors still in their grace period */
};

static void utc_time(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	strftime(buf, len, "%Y-%m-%d %H:%M UTC", gmtime(&tt));
}

/* A retired selector: past its grace period, drop its record and say so. */
static void retire_one(const char *sel, void *arg)
{
	struct retire_ctx *c = arg;
	char when[32], txt[TXT_MAX] = "";
	char *rp = sel_path(c->ddir, sel, DKIM_RETIRED_SUFFIX), *tp = sel_path(c->ddir, sel, ".txt");
	uint64_t until = 0;
	if (!read_text(rp, when, sizeof when) || !parse_u64(when, UINT64_MAX, &until))
		cmd_error("%s: unreadable; retiring the selector now", rp);
	if (c->now < until) {
		utc_time(until, when, sizeof when);
		printf("retiring %s: keep %s._domainkey.%s published until %s, then run rotate again\n",
		       sel, sel, c->domain, when);
		c->waiting++;
	} else {
		read_text(tp, txt, sizeof txt);
		if (unlink(tp) < 0 && errno != ENOENT)
			cmd_error("cannot remove %s: %s", tp, strerror(errno));
		unlink(rp);
		printf("retired %s: remove this record from DNS:\n", sel);
		dkim_print_record(sel, c->domain, txt);
	}
	free(rp);
	free(tp);
}

/* Does DNS serve the staged selector's key? 1 yes, 0 no, -1 cannot tell. */
static int published(const char *ddir, const char *domain, const char *sel)
{
	char txt[TXT_MAX], want[TXT_MAX], got[TXT_MAX];
	char *tp = sel_path(ddir, sel, ".txt"), *name = xasprintf("%s._domainkey.%s", sel, domain);
	char **recs = NULL;
	size_t n = 0;
	int seen = 0;
	if (!read_text(tp, txt, sizeof txt) || !dkim_txt_key(txt, want, sizeof want)) {
		cmd_error("%s: no p= key to look for", tp);
		seen = -1;
	} else {
		enum dns_status st = dns_txt(name, &recs, &n);
		if (st == DNS_TEMPFAIL || st == DNS_ERROR)
			seen = -1;
		for (size_t i = 0; i < n && !seen; i++)
			seen = dkim_txt_key(recs[i], got, sizeof got) && !strcmp(got, want);
		if (!seen)
			printf("waiting for %s: DNS %s; publish:\n", sel, st == DNS_OK
			       ? "serves another key" : dns_status_str(st));
		if (!seen)
			dkim_print_record(sel, domain, txt);
	}
	dns_txt_free(recs, n);
	free(tp);
	free(name);
	return seen;
}

/* Sign with the staged selector from now on. Crash-safe in this order: the
 * old key is marked retired and removed before the staged one becomes a key,
 * so a step again finds the staged key and finishes. */
static enum dkim_rotate_state switch_to(const char *ddir, const char *domain, const char *sel,
					const struct dkim_rotate_opts *o)
{
	char old[SEL_MAX] = "", until[32], when[32];
	each_selector(ddir, ".key", keep_name, old);
	char *rp = sel_path(ddir, old, DKIM_RETIRED_SUFFIX), *kp = sel_path(ddir, old, ".key");
	char *sp = sel_path(ddir, sel, DKIM_STAGED_SUFFIX), *np = sel_path(ddir, sel, ".key");
	enum dkim_rotate_state st = DKIM_ROT_SWITCHED;
	int fd = -1;
	snprintf(until, sizeof until, "%llu\n", (unsigned long long)(o->now + o->grace));
	if (old[0] && ((fd = open(rp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0 ||
		       write_all(fd, until, strlen(until)) < 0 || fsync(fd) < 0 || unlink(kp) < 0))
		st = DKIM_ROT_ERROR;
	if (fd >= 0)
		close(fd);
	if (st == DKIM_ROT_SWITCHED && (rename(sp, np) < 0 || fsync_dir(ddir) < 0))
		st = DKIM_ROT_ERROR;
	utc_time(o->now + o->grace, when, sizeof when);
	if (st == DKIM_ROT_ERROR)
		cmd_error("cannot switch %s to %s in %s: %s", domain, sel, ddir, strerror(errno));
	else
		printf("switched %s to selector %s (its record is in DNS)%s%s%s%s%s\n", domain, sel,
		       old[0] ? "; " : "", old,
		       old[0] ? " is retired: keep its record published until " : "",
		       old[0] ? when : "", old[0] ? ", then run rotate again" : "");
	free(rp);
	free(kp);
	free(sp);
	free(np);
	return st;
}

/* dkim_selectors names a selector other than sel: after a switch the agent
 * would look for that key only and sign nothing. Say what to change. */
static bool named_elsewhere(const char *domain, const char *sel, const struct dkim_rotate_opts *o,
			    bool before_switch)
{
	if (!o->named || !strcasecmp(o->named, sel))
		return false;
	printf("%s: %s dkim_selectors names %s=%s, and the remote agent signs only with the "
	       "selector named there: remove the entry %s=%s from dkim_selectors (or change it "
	       "to %s=%s)%s\n", before_switch ? "not switching yet" : "note", o->conf_path,
	       domain, o->named, domain, o->named, domain, sel, before_switch
	       ? ", then run `mailctl dkim rotate` again" : " before the switch");
	return true;
}

static enum dkim_rotate_state stage(const char *ddir, const char *domain,
				    const struct dkim_rotate_opts *o)
{
	char sel[SEL_MAX] = "";
	if (!each_selector(ddir, ".key", keep_name, sel)) {
		cmd_error("%s has no DKIM key to rotate: make one with `mailctl dkim keygen %s`",
			  domain, domain);
		return DKIM_ROT_ERROR;
	}
	if (o->selector) {
		strlcpy_t(sel, o->selector, sizeof sel);
	} else {
		time_t t = (time_t)o->now;
		strftime(sel, sizeof sel, "tern-%Y%m%d", gmtime(&t));
	}
	printf("staged selector %s for %s; publish its record, then run `mailctl dkim rotate %s` "
	       "again to sign with it:\n", sel, domain, domain);
	if (dkim_write_key(ddir, domain, sel, DKIM_STAGED_SUFFIX, o->alg) < 0)
		return DKIM_ROT_ERROR;
	named_elsewhere(domain, sel, o, false);
	return DKIM_ROT_STAGED;
}

static void no_op(const char *sel, void *arg)
{
}

bool dkim_rotate_pending(const char *ddir)
{
	return each_selector(ddir, DKIM_STAGED_SUFFIX, no_op, NULL) ||
	       each_selector(ddir, DKIM_RETIRED_SUFFIX, no_op, NULL);
}

enum dkim_rotate_state dkim_rotate(const char *ddir, const char *domain,
				   const struct dkim_rotate_opts *o)
{
	struct retire_ctx rc = { ddir, domain, o->now, 0 };
	char staged[SEL_MAX] = "";
	size_t retiring = each_selector(ddir, DKIM_RETIRED_SUFFIX, retire_one, &rc);
	if (each_selector(ddir, DKIM_STAGED_SUFFIX, keep_name, staged)) {
		switch (published(ddir, domain, staged)) {
		case 1:
			if (named_elsewhere(domain, staged, o, true))
				return DKIM_ROT_BLOCKED;
			return switch_to(ddir, domain, staged, o);
		case 0:
			return DKIM_ROT_WAITING;
		default:
			return DKIM_ROT_TEMPFAIL;
		}
	}
	/* One rotation at a time: the next starts once the last one's old
	 * record is gone (a call that finishes a retirement stages nothing). */
	if (rc.waiting)
		return DKIM_ROT_RETIRING;
	if (retiring)
		return DKIM_ROT_RETIRED;
	return stage(ddir, domain, o);
}
