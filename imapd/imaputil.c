/* imaputil.c — argument helpers shared by the session commands. */
#include "imapd/commands.h"
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

char *arg_mailbox(struct ip *ip)
{
	char *n = ip_astring(ip, NULL);
	if (n && ip->utf8) {
		char *stored = mbox_from_utf8(n);
		free(n);
		n = stored;
		if (!n)
			ip_fail(ip, "mailbox name is not UTF-8");
	}
	if (n && ms_is_inbox(n)) {
		free(n);
		n = xstrdup("INBOX");
	}
	return n;
}

char *folder_dir(const char *name)
{
	return ms_folder_dir(name);
}

void fmt_internaldate(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	snprintf(out, 32, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int64_t parse_imap_date(const char *s, bool with_time)
{
	int day, year, hh = 0, mm = 0, ss = 0, consumed = 0;
	char mon[4], zone[6] = "+0000";
	while (*s == ' ')
		s++;
	if (sscanf(s, "%2d-%3[A-Za-z]-%4d%n", &day, mon, &year, &consumed) != 3)
		return -1;
	const char *rest = s + consumed;
	if (with_time && sscanf(rest, " %2d:%2d:%2d %5s", &hh, &mm, &ss, zone) != 4)
		return -1;
	if (!with_time && *rest)
		return -1;
	int m = -1;
	for (int i = 0; i < 12; i++)
		if (!strcasecmp(mon, months[i]))
			m = i;
	if (m < 0 || day < 1 || day > 31 || year < 1900 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	if ((zone[0] != '+' && zone[0] != '-') || strlen(zone) != 5)
		return -1;
	for (int i = 1; i < 5; i++)
		if (!isdigit((unsigned char)zone[i]))
			return -1;
	struct tm tm = { .tm_mday = day, .tm_mon = m, .tm_year = year - 1900,
			 .tm_hour = hh, .tm_min = mm, .tm_sec = ss };
	int64_t t = (int64_t)timegm(&tm);
	int off = ((zone[1] - '0') * 10 + (zone[2] - '0')) * 3600 + ((zone[3] - '0') * 10 + (zone[4] - '0')) * 60;
	return zone[0] == '+' ? t - off : t + off;
}

static bool one_flag(const char *f, uint32_t *flags, char *kw, size_t kwlen)
{
	static const struct { const char *name; uint32_t bit; } sys[] = {
		{ "\\Seen", MI_SEEN }, { "\\Answered", MI_ANSWERED }, { "\\Flagged", MI_FLAGGED },
		{ "\\Deleted", MI_DELETED }, { "\\Draft", MI_DRAFT },
	};
	if (f[0] == '\\') {
		for (size_t i = 0; i < ARRAY_LEN(sys); i++) {
			if (!strcasecmp(f, sys[i].name)) {
				*flags |= sys[i].bit;
				return true;
			}
		}
		return !strcasecmp(f, "\\Recent") ? false : false;
	}
	/* a keyword: keep it once, bounded */
	size_t have = strlen(kw), fl = strlen(f);
	const char *p = kw;
	while ((p = strcasestr(p, f))) {
		if ((p == kw || p[-1] == ' ') && (p[fl] == ' ' || p[fl] == '\0'))
			return true;
		p += fl;
	}
	if (have + fl + 2 > kwlen)
		return true;	/* silently ignore keywords past the limit */
	if (have)
		strcat(kw, " ");
	strcat(kw, f);
	return true;
}

bool parse_flags(struct ip *ip, bool parens_required, uint32_t *flags, char *kw, size_t kwlen)
{
	*flags = 0;
	kw[0] = '\0';
	bool parens = ip_char(ip, '(');
	if (!parens && parens_required)
		return false;
	for (int count = 0; count < 100; count++) {
		if (parens && ip_char(ip, ')'))
			return true;
		if (count && !ip_sp(ip))
			return false;
		bool backslash = ip_char(ip, '\\');
		char *a = ip_atom(ip);
		if (!a)
			return false;
		char *f = backslash ? xasprintf("\\%s", a) : xstrdup(a);
		free(a);
		bool ok = one_flag(f, flags, kw, kwlen);
		free(f);
		if (!ok)
			return false;
		if (!parens)
			return true;
	}
	return false;
}

void s_uid_set(struct evbuffer *b, const uint32_t *u, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && u[j + 1] == u[j] + 1)
			j++;
		evbuffer_add_printf(b, "%s%u", i ? "," : "", u[i]);
		if (j > i)
			evbuffer_add_printf(b, ":%u", u[j]);
		i = j + 1;
	}
}
