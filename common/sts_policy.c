/* sts_policy.c — reading MTA-STS records and policies (see sts_policy.h). */
#include "common/sts_policy.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *sts_mode_name(enum sts_mode m)
{
	return m == STS_ENFORCE ? "enforce" : m == STS_TESTING ? "testing" : "none";
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

bool sts_txt_parse(const char *txt, char id[STS_ID_MAX + 1])
{
	const char *p = skip_ws(txt);
	/* the record must start with the version field (3.1) */
	if (strncmp(p, "v=STSv1", 7))
		return false;
	p = skip_ws(p + 7);
	bool have_id = false;
	while (*p == ';') {
		p = skip_ws(p + 1);
		if (!*p)
			break;
		size_t k = strcspn(p, "=;");
		if (p[k] != '=')
			return false;
		const char *v = p + k + 1;
		size_t vl = strcspn(v, "; \t");
		if (k == 2 && !strncmp(p, "id", 2)) {
			if (have_id || vl == 0 || vl > STS_ID_MAX)
				return false;
			for (size_t i = 0; i < vl; i++)
				if (!isalnum((unsigned char)v[i]))
					return false;
			memcpy(id, v, vl);
			id[vl] = 0;
			have_id = true;
		}
		p = skip_ws(v + vl);
	}
	return have_id && *p == 0;
}

/* One "key: value" line; value trimmed. */
static bool split_line(char *line, char **key, char **val)
{
	char *colon = strchr(line, ':');
	if (!colon)
		return false;
	*colon = 0;
	*key = str_trim(line);
	*val = str_trim(colon + 1);
	return **key != 0;
}

/* A host name, or "*." and one: labels of letters, digits and '-', none
 * empty (one trailing dot allowed). */
static bool valid_pattern(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 253)
		return false;
	const char *s = !strncmp(v, "*.", 2) ? v + 2 : v, *start = s;
	size_t label = 0;
	if (!*start || *start == '.')
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*s) || *s == '-') {
			label++;
		} else {
			return false;
		}
	}
	return label <= 63;	/* label 0 here: the name ended in its one allowed dot */
}

static bool policy_line(char *key, char *val, struct sts_policy *p, bool *version,
			char *why, size_t whylen)
{
	if (!strcmp(key, "version")) {
		if (strcmp(val, "STSv1")) {
			snprintf(why, whylen, "version %.40s is not STSv1", val);
			return false;
		}
		*version = true;
	} else if (!strcmp(key, "mode")) {
		p->mode = !strcmp(val, "enforce") ? STS_ENFORCE : !strcmp(val, "testing")
			? STS_TESTING : STS_NONE;
		if (p->mode == STS_NONE && strcmp(val, "none")) {
			snprintf(why, whylen, "unknown mode %.40s", val);
			return false;
		}
	} else if (!strcmp(key, "max_age")) {
		uint64_t v;
		if (!parse_u64(val, STS_MAX_AGE_MAX, &v)) {
			snprintf(why, whylen, "bad max_age %.40s", val);
			return false;
		}
		p->max_age = v;
	} else if (!strcmp(key, "mx")) {
		if (!valid_pattern(val) || p->nmx >= STS_MX_MAX) {
			snprintf(why, whylen, "bad or too many mx patterns (%.60s)", val);
			return false;
		}
		snprintf(p->mx[p->nmx], sizeof p->mx[0], "%s", val);
		size_t l = strlen(p->mx[p->nmx]);
		if (l > 1 && p->mx[p->nmx][l - 1] == '.')	/* "mx.example." = "mx.example" */
			p->mx[p->nmx][l - 1] = 0;
		str_lower(p->mx[p->nmx++]);
	}
	/* other keys are extensions: ignored (3.2) */
	return true;
}

bool sts_policy_parse(const char *text, size_t n, struct sts_policy *p, char *why, size_t whylen)
{
	memset(p, 0, sizeof *p);
	p->max_age = (uint64_t)-1;
	bool version = false, mode_seen = false;
	if (n > STS_POLICY_MAX) {
		snprintf(why, whylen, "policy longer than %d bytes", STS_POLICY_MAX);
		return false;
	}
	char line[1024];
	for (size_t i = 0; i < n;) {
		size_t e = i;
		while (e < n && text[e] != '\n')
			e++;
		size_t len = e - i;
		if (len && text[i + len - 1] == '\r')
			len--;
		if (len >= sizeof line) {
			snprintf(why, whylen, "policy line too long");
			return false;
		}
		memcpy(line, text + i, len);
		line[len] = 0;
		for (size_t k = 0; k < len; k++)
			if ((line[k] < 0x20 && line[k] != '\t') || (unsigned char)line[k] >= 0x7f) {
				snprintf(why, whylen, "policy holds a control or non-ASCII byte");
				return false;
			}
		i = e + 1;
		char *key, *val;
		if (!*str_trim(line))
			continue;
		if (!split_line(line, &key, &val)) {
			snprintf(why, whylen, "malformed policy line");
			return false;
		}
		mode_seen |= !strcmp(key, "mode");
		if (!policy_line(key, val, p, &version, why, whylen))
			return false;
	}
	if (!version || !mode_seen || p->max_age == (uint64_t)-1) {
		snprintf(why, whylen, "policy lacks version, mode or max_age");
		return false;
	}
	if (p->mode != STS_NONE && p->nmx == 0) {
		snprintf(why, whylen, "policy in %s mode names no mx", sts_mode_name(p->mode));
		return false;
	}
	return true;
}

bool sts_mx_match(const struct sts_policy *p, const char *host)
{
	char h[256];
	snprintf(h, sizeof h, "%s", host);
	str_lower(h);
	size_t hl = strlen(h);
	if (hl && h[hl - 1] == '.')
		h[--hl] = 0;
	for (size_t i = 0; i < p->nmx; i++) {
		const char *pat = p->mx[i];
		if (!strncmp(pat, "*.", 2)) {
			/* a wildcard stands for exactly one label (4.1) */
			const char *dot = strchr(h, '.');
			if (dot && dot != h && !strcmp(dot + 1, pat + 2))
				return true;
		} else if (!strcmp(pat, h)) {
			return true;
		}
	}
	return false;
}
