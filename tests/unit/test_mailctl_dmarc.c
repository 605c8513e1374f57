/* Unit tests: DMARC aggregate reports — aggregation into reports and rows,
 * the XML (checked with xmllint against RFC 7489 appendix C), gzip, the
 * file name, the mail, rua URIs. */
#include "mailctl/dmarc_outbox.h"
#include "mailctl/dmarc_report.h"
#include "common/queue_proto.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define XSD "tests/data/rfc7489-dmarc.xsd"

static struct dmarc_record rec(const char *domain, const char *ip, bool dkim, uint64_t t)
{
	struct dmarc_record r;
	memset(&r, 0, sizeof r);
	r.time = t;
	snprintf(r.ip, sizeof r.ip, "%s", ip);
	snprintf(r.header_from, sizeof r.header_from, "%s", domain);
	snprintf(r.policy_domain, sizeof r.policy_domain, "%s", domain);
	r.p = DMARC_P_REJECT;
	r.sp = DMARC_P_REJECT;
	r.pct = 100;
	r.adkim = r.aspf = 'r';
	strcpy(r.fo, "0");
	r.disposition = dkim ? DMARC_P_NONE : DMARC_P_REJECT;
	r.dkim_aligned = dkim;
	strcpy(r.env_from, "other.test");
	strcpy(r.env_to, "example.test");
	strcpy(r.spf_domain, "other.test");
	strcpy(r.spf_result, "pass");
	if (dkim) {
		r.ndkim = 1;
		snprintf(r.dkim[0].domain, sizeof r.dkim[0].domain, "%s", domain);
		strcpy(r.dkim[0].selector, "sel");
		strcpy(r.dkim[0].result, "pass");
	}
	snprintf(r.rua, sizeof r.rua, "mailto:dmarc@%s", domain);
	return r;
}

static struct dmarc_agg sample(void)
{
	struct dmarc_agg a;
	dmarc_agg_init(&a);
	struct dmarc_record r;
	for (int i = 0; i < 3; i++) {
		r = rec("a.test", "192.0.2.1", true, 1000 + (uint64_t)i);
		dmarc_agg_add(&a, &r);
	}
	r = rec("a.test", "192.0.2.1", false, 900);
	dmarc_agg_add(&a, &r);
	r = rec("a.test", "2001:db8::5", false, 1500);
	r.p = DMARC_P_QUARANTINE;	/* the newest record's policy is reported */
	strcpy(r.reason, "local_policy");
	r.disposition = DMARC_P_NONE;
	dmarc_agg_add(&a, &r);
	r = rec("b.test", "198.51.100.9", true, 1200);
	dmarc_agg_add(&a, &r);
	r = rec("b.test", "::ffff:203.0.113.4", true, 1300);
	dmarc_agg_add(&a, &r);
	return a;
}

static void test_aggregate(void)
{
	struct dmarc_agg a = sample();
	CHECK(a.nreps == 2);
	const struct dmarc_report *ra = &a.reps[0];
	CHECK_STR(ra->domain, "a.test");
	CHECK(ra->nrows == 3 && ra->messages == 5);
	CHECK(ra->rows[0].count == 3 && ra->rows[1].count == 1 && ra->rows[2].count == 1);
	CHECK(ra->begin == 900 && ra->end == 1500);
	CHECK(ra->latest.p == DMARC_P_QUARANTINE);
	CHECK(a.reps[1].nrows == 2 && a.reps[1].messages == 2);
	dmarc_agg_free(&a);

	/* Many distinct rows (the table grows) stay apart. */
	dmarc_agg_init(&a);
	for (int i = 0; i < 3000; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "10.%d.%d.1", i / 250, i % 250);
		struct dmarc_record r = rec("c.test", ip, i % 2, 5);
		dmarc_agg_add(&a, &r);
		dmarc_agg_add(&a, &r);
	}
	CHECK(a.nreps == 1 && a.reps[0].nrows == 3000 && a.reps[0].messages == 6000);
	bool all2 = true;
	for (size_t i = 0; i < a.reps[0].nrows; i++)
		all2 &= a.reps[0].rows[i].count == 2;
	CHECK(all2);
	dmarc_agg_free(&a);
}

static bool validates(const char *xml, size_t len)
{
	char *path = xasprintf("%s/r.xml", check_tmpdir());
	FILE *f = fopen(path, "w");
	fwrite(xml, 1, len, f);
	fclose(f);
	char *cmd = xasprintf("xmllint --noout --schema %s %s 2>/dev/null", XSD, path);
	int st = system(cmd);
	free(cmd);
	free(path);
	return st == 0;
}

static void test_xml(void)
{
	struct dmarc_agg a = sample();
	struct dmarc_meta meta = { "mx.example.test", "noreply-dmarc@mx.example.test", "id<1>&",
				   900, 1600 };
	size_t len;
	char *xml = dmarc_report_xml(&a.reps[0], &meta, &len);
	CHECK(strlen(xml) == len);
	CHECK(strstr(xml, "<report_id>id&lt;1&gt;&amp;</report_id>") != NULL);
	CHECK(strstr(xml, "<p>quarantine</p>") != NULL);
	CHECK(strstr(xml, "<count>3</count>") != NULL);
	CHECK(strstr(xml, "<source_ip>2001:db8:0:0:0:0:0:5</source_ip>") != NULL);
	CHECK(strstr(xml, "<type>local_policy</type>") != NULL);
	CHECK(strstr(xml, "<scope>mfrom</scope>") != NULL);
	CHECK(strstr(xml, "<feedback>\n  <version>1.0</version>\n") != NULL);
	CHECK(strstr(xml, "<envelope_from>other.test</envelope_from>") != NULL);
	if (access("/usr/bin/xmllint", X_OK) == 0) {
		CHECK(validates(xml, len));
		/* the check can fail: a disposition the schema does not know */
		char *bad = xstrdup(xml);
		char *d = strstr(bad, "<disposition>none</disposition>");
		CHECK(d != NULL);
		if (d)
			memcpy(d, "<disposition>pass</disposition>", 31);
		CHECK(!validates(bad, len));
		free(bad);
	} else {
		CHECK(!"xmllint missing (tools/deps.sh installs libxml2-utils)");
	}

	unsigned char *gz;
	size_t gzlen;
	CHECK(dmarc_gzip(xml, len, &gz, &gzlen) == 0);
	CHECK(gzlen > 18 && gz[0] == 0x1f && gz[1] == 0x8b);
	z_stream z;
	memset(&z, 0, sizeof z);
	char *back = xmalloc(len + 1);
	inflateInit2(&z, 15 + 16);
	z.next_in = gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = (unsigned char *)back;
	z.avail_out = (uInt)len + 1;
	CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == len && !memcmp(back, xml, len));
	inflateEnd(&z);

	char *name = dmarc_report_filename("mx.example.test", "a.test", 900, 1600, "ab12");
	CHECK_STR(name, "mx.example.test!a.test!900!1600!ab12.xml.gz");
	struct dmarc_mail m = { .from = "noreply-dmarc@mx.example.test", .to = "dmarc@a.test",
				.domain = "a.test", .submitter = "mx.example.test", .report_id = "R1",
				.filename = name, .gz = gz, .gzlen = gzlen };
	char *mail = dmarc_report_mail(&m);
	CHECK(strstr(mail, "\r\nMessage-ID: <R1@mx.example.test>\r\n") != NULL);
	CHECK(strstr(mail, "\r\nSubject: Report Domain: a.test Submitter: mx.example.test "
			   "Report-ID: <R1>\r\n") != NULL);
	CHECK(strstr(mail, "Content-Type: application/gzip; name=\"" ) != NULL);
	CHECK(strstr(mail, "filename=\"mx.example.test!a.test!900!1600!ab12.xml.gz\"") != NULL);
	CHECK(!strncmp(mail, "From: <noreply-dmarc@mx.example.test>\r\n", 39));
	free(mail);
	free(name);
	char *xb = dmarc_report_xml(&a.reps[1], &meta, &len);
	CHECK(strstr(xb, "<source_ip>203.0.113.4</source_ip>") != NULL);	/* v4-mapped */
	free(xb);
	free(back);
	free(gz);
	free(xml);
	dmarc_agg_free(&a);
}

static void test_rua(void)
{
	char addr[256];
	uint64_t lim;
	CHECK(dmarc_rua_parse("mailto:dmarc@a.test", addr, sizeof addr, &lim) && lim == 0);
	CHECK_STR(addr, "dmarc@a.test");
	CHECK(dmarc_rua_parse("MAILTO:x@b.test!10m", addr, sizeof addr, &lim) && lim == 10485760);
	CHECK(dmarc_rua_parse("mailto:x@b.test!500", addr, sizeof addr, &lim) && lim == 500);
	CHECK(!dmarc_rua_parse("https://a.test/r", addr, sizeof addr, &lim));
	CHECK(!dmarc_rua_parse("mailto:", addr, sizeof addr, &lim));
	CHECK(!dmarc_rua_parse("mailto:nodomain", addr, sizeof addr, &lim));
	CHECK(!dmarc_rua_parse("mailto:a@b.test!10x", addr, sizeof addr, &lim));
	CHECK(!dmarc_rua_parse("mailto:a@b.test!", addr, sizeof addr, &lim));
	CHECK(!dmarc_rua_parse("mailto:a%40b@c.test", addr, sizeof addr, &lim));
	CHECK(!dmarc_rua_parse("mailto:a@b.test!99999999999999999999t", addr, sizeof addr, &lim));
}

/* ---- outbox ---- */

static int sent, fail_at;
static char last_rcpt[64], last_mail[64];

static uint32_t fake_send(void *arg, const char *sender, const char *rcpt, const char *domain,
			  const char *mail)
{
	if (++sent == fail_at)
		return QS_TEMPFAIL;
	snprintf(last_rcpt, sizeof last_rcpt, "%s", rcpt);
	snprintf(last_mail, sizeof last_mail, "%s", mail);
	return QS_OK;
}

static int posts, post_ok;
static uint64_t last_age;
static size_t last_len;
static unsigned char last_body[16];
static char last_url[64], last_ctype[64];

static bool fake_post(void *arg, const char *url, const char *ctype, const char *domain,
		      const unsigned char *body, size_t len, uint64_t age)
{
	posts++;
	snprintf(last_url, sizeof last_url, "%s", url);
	snprintf(last_ctype, sizeof last_ctype, "%s", ctype);
	last_len = len;
	memcpy(last_body, body, len < sizeof last_body ? len : sizeof last_body);
	last_age = age;
	return post_ok;
}

static const struct outbox_senders senders = { .mail = fake_send, .post = fake_post };

static void touch(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fputs("x\n", f);
	fclose(f);
	free(p);
}

static bool exists(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	bool e = access(p, F_OK) == 0;
	free(p);
	return e;
}

static int entries(const char *d)
{
	DIR *dh = opendir(d);
	int n = 0;
	struct dirent *e;
	while (dh && (e = readdir(dh)))
		n += e->d_name[0] != '.';
	if (dh)
		closedir(dh);
	return n;
}

static void test_outbox(void)
{
	char *dir = xasprintf("%s/dmarc", check_tmpdir());
	char *box = xasprintf("%s/outbox", dir);
	mkdir(dir, 0700);
	touch(dir, "records.1");
	touch(dir, "records.2");
	struct outbox ob;
	CHECK(outbox_begin(&ob, dir) == 0);
	CHECK(outbox_add(&ob, "from@x.test", "a@y.test", "y.test", "mail one\r\n") == 0);
	CHECK(outbox_add(&ob, "from@x.test", "b@y.test", "y.test", "mail two\r\n") == 0);
	char *src[1] = { xasprintf("%s/records.1", dir) };
	CHECK(outbox_commit(&ob, src, 1) == 0);
	CHECK(!exists(dir, "records.1") && exists(dir, "records.2"));
	free(src[0]);

	/* queued fails on the second mail: it waits; the first is not repeated */
	sent = 0;
	fail_at = 2;
	CHECK(!outbox_flush(dir, &senders));
	CHECK_STR(last_rcpt, "a@y.test");
	CHECK_STR(last_mail, "mail one\r\n");
	fail_at = 0;
	sent = 0;
	CHECK(outbox_flush(dir, &senders));
	CHECK(sent == 1);
	CHECK_STR(last_rcpt, "b@y.test");
	CHECK(entries(box) == 0);

	/* After a crash: an uncommitted run is dropped (its records are read
	 * again); a committed one still finishes removing its records. */
	CHECK(outbox_begin(&ob, dir) == 0);
	CHECK(outbox_add(&ob, "f@x.test", "c@y.test", "y.test", "never\r\n") == 0);
	char *tmp = xstrdup(ob.tmp);
	free(ob.dir);
	free(ob.tmp);
	free(ob.final);	/* (the process "died" here) */
	char *run = xasprintf("%s/000000000001-00000000", box);
	mkdir(run, 0700);
	touch(run, "000000.eml");
	char *srcs = xasprintf("%s/sources", run);
	FILE *f = fopen(srcs, "w");
	fputs("records.2\n../../escape\n", f);
	fclose(f);
	sent = 0;
	CHECK(outbox_flush(dir, &senders));	/* the damaged mail file is dropped, logged */
	CHECK(access(tmp, F_OK) < 0);
	CHECK(!exists(dir, "records.2"));
	CHECK(sent == 0 && entries(box) == 0);
	free(srcs);
	free(run);
	free(tmp);
	free(box);
	free(dir);
}

/* A post that fails waits in the outbox without holding back the mails,
 * and is tried again by the next flush with the age of its run. */
static void test_outbox_posts(void)
{
	char *dir = xasprintf("%s/tlsrpt", check_tmpdir());
	char *box = xasprintf("%s/outbox", dir);
	mkdir(dir, 0700);
	struct outbox ob;
	const unsigned char gz[5] = { 0x1f, 0x8b, 0, '\n', 7 };	/* NUL and LF inside */
	CHECK(outbox_begin(&ob, dir) == 0);
	CHECK(outbox_add_post(&ob, "https://r.test/p", "application/tlsrpt+gzip", "y.test", gz,
			      sizeof gz) == 0);
	CHECK(outbox_add(&ob, "from@x.test", "a@y.test", "y.test", "mail\r\n") == 0);
	char *final = xstrdup(ob.final);
	CHECK(outbox_commit(&ob, NULL, 0) == 0);

	sent = posts = 0;
	post_ok = 0;
	CHECK(outbox_flush(dir, &senders));
	CHECK(posts == 1 && sent == 1);
	CHECK_STR(last_rcpt, "a@y.test");
	CHECK_STR(last_url, "https://r.test/p");
	CHECK_STR(last_ctype, "application/tlsrpt+gzip");
	CHECK(last_len == sizeof gz && !memcmp(last_body, gz, sizeof gz));
	CHECK(last_age < 60);
	CHECK(entries(box) == 1 && entries(final) == 2);	/* the post and "sources" */

	/* two days later (the run's name carries its time): tried again, once */
	char *old = xasprintf("%s/%012lld-00000000", box, (long long)time(NULL) - 2 * 86400);
	CHECK(rename(final, old) == 0);
	sent = posts = 0;
	post_ok = 1;
	CHECK(outbox_flush(dir, &senders));
	CHECK(posts == 1 && sent == 0);
	CHECK(last_age >= 2 * 86400 && last_age < 2 * 86400 + 60);
	CHECK(entries(box) == 0);
	free(old);
	free(final);
	free(box);
	free(dir);
}

int main(void)
{
	test_outbox();
	test_outbox_posts();
	test_aggregate();
	test_xml();
	test_rua();
	return check_summary("mailctl_dmarc");
}
