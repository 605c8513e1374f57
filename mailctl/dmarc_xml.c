/* dmarc_xml.c — the aggregate report document (RFC 7489 appendix C), its gzip
 * form and the mail that carries it (7.2.1.1). */
#include "mailctl/dmarc_report.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <zlib.h>

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void elem(FILE *f, const char *indent, const char *name, const char *value)
{
	fprintf(f, "%s<%s>", indent, name);
	esc(f, value);
	fprintf(f, "</%s>\n", name);
}

/* The schema's IPAddress pattern knows only dotted quads and the full
 * eight-group IPv6 form, so IPv6 addresses are written uncompressed. */
static void source_ip(const char *ip, char *out, size_t len)
{
	unsigned char b[16];
	if (!strchr(ip, ':') || inet_pton(AF_INET6, ip, b) != 1) {
		snprintf(out, len, "%s", ip);
		return;
	}
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (!memcmp(b, mapped, sizeof mapped)) {	/* ::ffff:a.b.c.d is an IPv4 client */
		snprintf(out, len, "%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
		return;
	}
	snprintf(out, len, "%x:%x:%x:%x:%x:%x:%x:%x", b[0] << 8 | b[1], b[2] << 8 | b[3],
		 b[4] << 8 | b[5], b[6] << 8 | b[7], b[8] << 8 | b[9], b[10] << 8 | b[11],
		 b[12] << 8 | b[13], b[14] << 8 | b[15]);
}

static void metadata(FILE *f, const struct dmarc_meta *m)
{
	fputs("  <report_metadata>\n", f);
	elem(f, "    ", "org_name", m->org_name);
	elem(f, "    ", "email", m->email);
	elem(f, "    ", "report_id", m->report_id);
	fprintf(f, "    <date_range>\n      <begin>%llu</begin>\n      <end>%llu</end>\n"
		   "    </date_range>\n  </report_metadata>\n",
		(unsigned long long)m->begin, (unsigned long long)m->end);
}

static void policy_published(FILE *f, const struct dmarc_report *rep)
{
	const struct dmarc_record *p = &rep->latest;
	char a[2] = { p->adkim, 0 }, s[2] = { p->aspf, 0 };
	fputs("  <policy_published>\n", f);
	elem(f, "    ", "domain", rep->domain);
	elem(f, "    ", "adkim", a);
	elem(f, "    ", "aspf", s);
	elem(f, "    ", "p", dmarc_policy_str(p->p));
	elem(f, "    ", "sp", dmarc_policy_str(p->sp));
	fprintf(f, "    <pct>%u</pct>\n", p->pct);
	elem(f, "    ", "fo", p->fo);
	fputs("  </policy_published>\n", f);
}

static void record(FILE *f, const struct dmarc_row *row)
{
	const struct dmarc_record *r = &row->rec;
	char ip[64];
	source_ip(r->ip, ip, sizeof ip);
	fputs("  <record>\n    <row>\n", f);
	elem(f, "      ", "source_ip", ip);
	fprintf(f, "      <count>%llu</count>\n      <policy_evaluated>\n",
		(unsigned long long)row->count);
	elem(f, "        ", "disposition", dmarc_policy_str(r->disposition));
	elem(f, "        ", "dkim", r->dkim_aligned ? "pass" : "fail");
	elem(f, "        ", "spf", r->spf_aligned ? "pass" : "fail");
	if (r->reason[0]) {
		fputs("        <reason>\n", f);
		elem(f, "          ", "type", r->reason);
		fputs("        </reason>\n", f);
	}
	fputs("      </policy_evaluated>\n    </row>\n    <identifiers>\n", f);
	if (r->env_to[0])
		elem(f, "      ", "envelope_to", r->env_to);
	elem(f, "      ", "envelope_from", r->env_from);	/* "" for the null sender */
	elem(f, "      ", "header_from", r->header_from);
	fputs("    </identifiers>\n    <auth_results>\n", f);
	for (int i = 0; i < r->ndkim; i++) {
		fputs("      <dkim>\n", f);
		elem(f, "        ", "domain", r->dkim[i].domain);
		if (r->dkim[i].selector[0])
			elem(f, "        ", "selector", r->dkim[i].selector);
		elem(f, "        ", "result", r->dkim[i].result);
		fputs("      </dkim>\n", f);
	}
	fputs("      <spf>\n", f);
	elem(f, "        ", "domain", r->spf_domain);
	elem(f, "        ", "scope", r->spf_helo ? "helo" : "mfrom");
	elem(f, "        ", "result", r->spf_result);
	fputs("      </spf>\n    </auth_results>\n  </record>\n", f);
}

char *dmarc_report_xml(const struct dmarc_report *rep, const struct dmarc_meta *meta, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		fatal_errno("open_memstream");
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n  <version>1.0</version>\n", f);
	metadata(f, meta);
	policy_published(f, rep);
	for (size_t i = 0; i < rep->nrows; i++)
		record(f, &rep->rows[i]);
	fputs("</feedback>\n", f);
	if (fclose(f) != 0)
		fatal("out of memory writing a DMARC report");
	return buf;
}

int dmarc_gzip(const char *data, size_t len, unsigned char **out, size_t *outlen)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	/* windowBits 15 + 16: a gzip wrapper rather than zlib's */
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	size_t cap = deflateBound(&z, len) + 64;
	*out = xmalloc(cap);
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)len;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	int r = deflate(&z, Z_FINISH);
	*outlen = z.total_out;
	deflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* Base64 of the attachment in 76-column lines. */
static void base64_lines(FILE *f, const unsigned char *p, size_t n)
{
	unsigned char line[80];
	for (size_t i = 0; i < n; i += 57) {
		size_t k = n - i < 57 ? n - i : 57;
		EVP_EncodeBlock(line, p + i, (int)k);
		fprintf(f, "%s\r\n", line);
	}
}

char *dmarc_report_mail(const struct dmarc_mail *m)
{
	char date[64], boundary[40];
	struct tm tm;
	uint64_t rnd[2] = { 0, 0 };
	if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
		rnd[0] = now_ms();
	snprintf(boundary, sizeof boundary, "=_tern_%016llx", (unsigned long long)(rnd[0] ^ rnd[1]));
	gmtime_r(&m->date, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		fatal_errno("open_memstream");
	char ctype[120] = "multipart/mixed";
	if (m->report_type)
		snprintf(ctype, sizeof ctype, "multipart/report; report-type=\"%s\"", m->report_type);
	fprintf(f, "From: <%s>\r\nTo: <%s>\r\nDate: %s\r\n"
		   "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n%s"
		   "Message-ID: <%s%s%s>\r\nMIME-Version: 1.0\r\n"
		   "Content-Type: %s; boundary=\"%s\"\r\n\r\n"
		   "This is a MIME message.\r\n\r\n--%s\r\n"
		   "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
		   "This is %s for %s from %s.\r\n\r\n--%s\r\n"
		   "Content-Type: %s; name=\"%s\"\r\n"
		   "Content-Transfer-Encoding: base64\r\n"
		   "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
		m->from, m->to, date, m->domain, m->submitter, m->report_id,
		m->extra_headers ? m->extra_headers : "", m->report_id,
		strchr(m->report_id, '@') ? "" : "@", strchr(m->report_id, '@') ? "" : m->submitter,
		ctype, boundary,
		boundary, m->what ? m->what : "a DMARC aggregate report (RFC 7489)", m->domain,
		m->submitter, boundary, m->media_type ? m->media_type : "application/gzip",
		m->filename, m->filename);
	base64_lines(f, m->gz, m->gzlen);
	fprintf(f, "\r\n--%s--\r\n", boundary);
	if (fclose(f) != 0)
		fatal("out of memory writing a DMARC report mail");
	return buf;
}
