/* Unit tests: DMARC report records — log line round trip, IPC round trip,
 * escaping, and bad lines refused with their bounds. */
#include "common/dmarc_record.h"
#include "common/ipc.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sample(struct dmarc_record *r)
{
	memset(r, 0, sizeof *r);
	r->time = 1795000000;
	strcpy(r->ip, "192.0.2.7");
	strcpy(r->header_from, "a.test");
	strcpy(r->policy_domain, "a.test");
	r->p = DMARC_P_REJECT;
	r->sp = DMARC_P_QUARANTINE;
	r->pct = 50;
	r->adkim = 's';
	r->aspf = 'r';
	strcpy(r->fo, "1:d");
	r->disposition = DMARC_P_QUARANTINE;
	r->dkim_aligned = false;
	r->spf_aligned = true;
	strcpy(r->reason, "sampled_out");
	strcpy(r->env_from, "bounce.a.test");
	strcpy(r->env_to, "example.test");
	strcpy(r->spf_domain, "bounce.a.test");
	strcpy(r->spf_result, "pass");
	r->ndkim = 2;
	strcpy(r->dkim[0].domain, "a.test");
	strcpy(r->dkim[0].selector, "sel#1");	/* needs escaping */
	strcpy(r->dkim[0].result, "fail");
	strcpy(r->dkim[1].domain, "other.test");
	strcpy(r->dkim[1].selector, "s%2");
	strcpy(r->dkim[1].result, "pass");
	strcpy(r->rua, "mailto:dmarc@a.test,mailto:x@y.test!10m");
}

static bool same(const struct dmarc_record *a, const struct dmarc_record *b)
{
	return !memcmp(a, b, sizeof *a);
}

static void test_line_round_trip(void)
{
	struct dmarc_record r, back;
	sample(&r);
	char *line = dmarc_record_format(&r);
	CHECK(line != NULL);
	if (!line)
		return;
	CHECK(!strncmp(line, "D1\t1795000000\t192.0.2.7\t", 24));
	CHECK(strstr(line, "sel%231") != NULL);
	CHECK(strstr(line, "s%252") != NULL);
	CHECK(strchr(line, '\n') == line + strlen(line) - 1);
	CHECK(dmarc_record_parse(line, &back));
	CHECK(same(&r, &back));
	free(line);

	/* No DKIM signatures, null sender (HELO scope), IPv6. */
	sample(&r);
	r.ndkim = 0;
	memset(r.dkim, 0, sizeof r.dkim);
	r.env_from[0] = '\0';
	r.spf_helo = true;
	strcpy(r.spf_domain, "client.test");
	strcpy(r.ip, "2001:db8::1");
	r.reason[0] = '\0';
	line = dmarc_record_format(&r);
	CHECK(line && dmarc_record_parse(line, &back));
	char *again = dmarc_record_format(&back);	/* (r keeps bytes after the NULs) */
	CHECK(line && again && !strcmp(line, again));
	CHECK(back.spf_helo && back.ndkim == 0 && !back.env_from[0] && !back.reason[0]);
	free(again);
	free(line);
}

static void test_ipc_round_trip(void)
{
	struct dmarc_record r, back;
	struct ipc_msg m, d;
	sample(&r);
	ipc_msg_init(&m, 1, 7);
	dmarc_record_put(&m, &r);
	size_t len;
	unsigned char *buf = ipc_encode(&m, &len);
	CHECK(ipc_decode(buf, len, &d) == (long)len);
	CHECK(dmarc_record_get(&d, &back) && dmarc_record_valid(&back));
	CHECK(same(&r, &back));
	ipc_msg_free(&d);
	free(buf);
	ipc_msg_free(&m);

	/* A truncated message is malformed. */
	ipc_msg_init(&m, 1, 8);
	ipc_put_u64(&m, 1);
	ipc_put_str(&m, "192.0.2.1");
	buf = ipc_encode(&m, &len);
	CHECK(ipc_decode(buf, len, &d) == (long)len);
	CHECK(!dmarc_record_get(&d, &back));
	ipc_msg_free(&d);
	free(buf);
	ipc_msg_free(&m);
}

/* Replace field idx (0 = time) of a good line and expect it refused. */
static bool parses_with(int idx, const char *value)
{
	struct dmarc_record r;
	sample(&r);
	char *line = dmarc_record_format(&r);
	char *out = xmalloc(strlen(line) + strlen(value) + 8);
	char *p = line + 3, *o = out;
	memcpy(o, "D1\t", 3);
	o += 3;
	for (int i = 0; *p; i++) {
		size_t n = strcspn(p, "\t\n");
		const char *src = i == idx ? value : p;
		size_t sn = i == idx ? strlen(value) : n;
		memcpy(o, src, sn);
		o += sn;
		p += n;
		if (*p)
			*o++ = *p++;
	}
	*o = '\0';
	bool ok = dmarc_record_parse(out, &r);
	free(out);
	free(line);
	return ok;
}

static void test_bad_lines(void)
{
	struct dmarc_record r;
	CHECK(parses_with(6, "100"));		/* the sample, unchanged but for pct */
	CHECK(!parses_with(6, "101"));		/* pct */
	CHECK(!parses_with(0, "x"));		/* time */
	CHECK(!parses_with(1, "not-an-ip"));
	CHECK(!parses_with(2, ""));		/* header_from required */
	CHECK(!parses_with(4, "maybe"));	/* p */
	CHECK(!parses_with(7, "x"));		/* adkim */
	CHECK(!parses_with(11, "2"));		/* boolean */
	CHECK(!parses_with(13, "because"));	/* reason */
	CHECK(!parses_with(17, "rcpt"));	/* scope */
	CHECK(!parses_with(18, "ok"));		/* spf result */
	CHECK(!parses_with(19, "3"));		/* ndkim does not match the fields */
	CHECK(!parses_with(19, "9"));		/* over DMARC_REC_MAX_DKIM */
	CHECK(!parses_with(22, "good"));	/* dkim result */
	CHECK(!parses_with(2, "a%00b"));	/* NUL */
	CHECK(!parses_with(2, "ab%4"));		/* cut escape */
	CHECK(!parses_with(2, "a%zzb"));
	CHECK(!parses_with(2, "a%20b"));	/* a space in a domain */
	char *longname = xmalloc(600);
	memset(longname, 'a', 599);
	longname[599] = '\0';
	CHECK(!parses_with(2, longname));	/* over 255 */
	free(longname);
	CHECK(!dmarc_record_parse("", &r));
	CHECK(!dmarc_record_parse("D2\t1", &r));
	CHECK(!dmarc_record_parse("D1\t1\t192.0.2.1", &r));
	char *huge = xmalloc(DMARC_REC_LINE_MAX + 10);
	memset(huge, 'a', DMARC_REC_LINE_MAX + 9);
	memcpy(huge, "D1\t", 3);
	huge[DMARC_REC_LINE_MAX + 9] = '\0';
	CHECK(!dmarc_record_parse(huge, &r));
	free(huge);

	/* Invalid records are never written. */
	sample(&r);
	r.pct = 200;
	CHECK(dmarc_record_format(&r) == NULL);
	sample(&r);
	strcpy(r.dkim[0].result, "great");
	CHECK(dmarc_record_format(&r) == NULL);
}

int main(void)
{
	test_line_round_trip();
	test_ipc_round_trip();
	test_bad_lines();
	return check_summary("common_dmarc_record");
}
