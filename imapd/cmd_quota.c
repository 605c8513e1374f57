/* cmd_quota.c — QUOTA (RFC 9208, STORAGE resource): one quota root "" per
 * user, the limit from authd, usage from the count deliverd uses
 * (common/maildir_quota.h), so IMAP and delivery agree. */
#include "imapd/commands.h"
#include "common/maildir_quota.h"
#include "common/mailstore.h"
#include "common/mime.h"
#include "common/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What delivery counts too (maildir_quota.h); the session runs in the
 * Maildir. */
static uint64_t usage(const struct session *s)
{
	return mdq_usage(".", s->lim.quota);
}

bool quota_exceeded(struct session *s, uint64_t bytes)
{
	return s->lim.quota && usage(s) + bytes > s->lim.quota;
}

bool over_quota(struct session *s, uint64_t bytes)
{
	if (!quota_exceeded(s, bytes))
		return false;
	s_no(s, "[OVERQUOTA] Mailbox is over its quota");
	return true;
}

static void quota_line(struct session *s)
{
	uint64_t used = usage(s);
	s_out(s, "* QUOTA \"\" (STORAGE %llu %llu)", (unsigned long long)((used + 1023) / 1024),
	      (unsigned long long)(s->lim.quota / 1024));
}

void cmd_getquotaroot(struct session *s, struct ip *ip, bool uid)
{
	char *name = NULL;
	if (!ip_sp(ip) || !(name = arg_mailbox(ip)) || !ip_eol(ip)) {
		free(name);
		s_bad(s, "Syntax: GETQUOTAROOT mailbox");
		return;
	}
	if (!ms_exists(name)) {
		free(name);
		s_no(s, "[NONEXISTENT] No such mailbox");
		return;
	}
	struct evbuffer *b = s_buf(s);
	evbuffer_add(b, "* QUOTAROOT ", 12);
	s_mailbox(s, b, name);
	evbuffer_add_printf(b, "%s\r\n", s->lim.quota ? " \"\"" : "");
	if (s->lim.quota)
		quota_line(s);
	free(name);
	s_ok(s, "GETQUOTAROOT completed");
}

void cmd_getquota(struct session *s, struct ip *ip, bool uid)
{
	char *root = NULL;
	if (!ip_sp(ip) || !(root = ip_astring(ip, NULL)) || !ip_eol(ip)) {
		free(root);
		s_bad(s, "Syntax: GETQUOTA root");
		return;
	}
	if (*root || !s->lim.quota) {
		s_no(s, "[NONEXISTENT] No such quota root");
	} else {
		quota_line(s);
		s_ok(s, "GETQUOTA completed");
	}
	free(root);
}

void cmd_setquota(struct session *s, struct ip *ip, bool uid)
{
	s_no(s, "[NOPERM] Quotas are set by the administrator (mailctl user quota)");
}
