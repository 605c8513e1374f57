/* maildate.c — RFC 5322 and RFC 3339 dates (see maildate.h). */
#include "common/maildate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
				      "jul", "aug", "sep", "oct", "nov", "dec" };

/* Skip spaces and (nested) comments. */
static const char *cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		for (int depth = 0; *p; p++) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

static bool number(const char **pp, int min_digits, int max_digits, int *out)
{
	const char *p = cfws(*pp);
	int n = 0, v = 0;
	while (isdigit((unsigned char)*p) && n < max_digits) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (n < min_digits)
		return false;
	*out = v;
	*pp = p;
	return true;
}

/* The zone: +hhmm / -hhmm, or an obsolete name (UT, GMT, EST ... , military
 * letters count as -0000, RFC 5322 4.3). */
static bool zone(const char *p, int *off)
{
	static const struct { const char *name; int off; } names[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "Z", 0 }, { "EST", -300 }, { "EDT", -240 },
		{ "CST", -360 }, { "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
		{ "PST", -480 }, { "PDT", -420 },
	};
	p = cfws(p);
	if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
	    isdigit((unsigned char)p[3]) && isdigit((unsigned char)p[4])) {
		int hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = (p[3] - '0') * 10 + (p[4] - '0');
		if (mm > 59)
			return false;
		*off = (*p == '-' ? -1 : 1) * (hh * 60 + mm);
		return true;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t n = strlen(names[i].name);
		if (!strncasecmp(p, names[i].name, n) && !isalpha((unsigned char)p[n])) {
			*off = names[i].off;
			return true;
		}
	}
	*off = 0;
	return isalpha((unsigned char)*p) || !*p;	/* unknown name or none: -0000 */
}

bool maildate_parse(const char *s, int64_t *t, int *offset_min)
{
	if (!s)
		return false;
	const char *p = cfws(s);
	/* optional day of week */
	if (isalpha((unsigned char)*p)) {
		while (isalpha((unsigned char)*p))
			p++;
		p = cfws(p);
		if (*p == ',')
			p++;
	}
	int day, year, hh, mm, ss = 0, mon = -1;
	if (!number(&p, 1, 2, &day))
		return false;
	p = cfws(p);
	for (int i = 0; i < 12; i++)
		if (!strncasecmp(p, months[i], 3))
			mon = i;
	if (mon < 0)
		return false;
	while (isalpha((unsigned char)*p))
		p++;
	if (!number(&p, 2, 4, &year) || !number(&p, 1, 2, &hh))
		return false;
	p = cfws(p);
	if (*p++ != ':' || !number(&p, 2, 2, &mm))
		return false;
	const char *q = cfws(p);
	if (*q == ':') {
		p = q + 1;
		if (!number(&p, 2, 2, &ss))
			return false;
	}
	if (year < 50)
		year += 2000;
	else if (year < 1000)
		year += 1900;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return false;
	int off;
	if (!zone(p, &off))
		return false;
	struct tm tm = { .tm_mday = day, .tm_mon = mon, .tm_year = year - 1900, .tm_hour = hh,
			 .tm_min = mm, .tm_sec = ss };
	*t = (int64_t)timegm(&tm) - (int64_t)off * 60;
	*offset_min = off;
	return true;
}

void maildate_rfc3339(int64_t t, int offset_min, bool zulu, char out[32])
{
	time_t local = (time_t)(t + (int64_t)offset_min * 60);
	struct tm tm;
	gmtime_r(&local, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	if (zulu && offset_min == 0)
		snprintf(out + n, 32 - n, "Z");
	else
		snprintf(out + n, 32 - n, "%c%02d:%02d", offset_min < 0 ? '-' : '+',
			 abs(offset_min) / 60, abs(offset_min) % 60);
}

void maildate_rfc5322(int64_t t, int offset_min, char out[40])
{
	time_t local = (time_t)(t + (int64_t)offset_min * 60);
	struct tm tm;
	gmtime_r(&local, &tm);
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mn[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
					  "Sep", "Oct", "Nov", "Dec" };
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d", wd[tm.tm_wday], tm.tm_mday,
		 mn[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 offset_min < 0 ? '-' : '+', abs(offset_min) / 60, abs(offset_min) % 60);
}

bool maildate_parse_rfc3339(const char *s, int64_t *t)
{
	int y, mo, d, h, mi, se, n = 0;
	if (!s || sscanf(s, "%4d-%2d-%2d%*1[Tt]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 ||
	    n != 19 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return false;
	const char *p = s + n;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++;
	}
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || mm > 59)
			return false;
		off = (*p == '-' ? -1 : 1) * (hh * 60 + mm);
		p += 6;
	} else {
		return false;
	}
	if (*p)
		return false;
	struct tm tm = { .tm_mday = d, .tm_mon = mo - 1, .tm_year = y - 1900, .tm_hour = h,
			 .tm_min = mi, .tm_sec = se };
	*t = (int64_t)timegm(&tm) - (int64_t)off * 60;
	return true;
}
