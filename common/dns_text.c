/* dns_text.c — records as presentation text (see dns_text.h). */
#include "common/dns_text.h"
#include "common/util.h"

#include <arpa/nameser.h>
#include <ctype.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RDATA_TEXT_MAX 8192

struct rr_view {
	const unsigned char *base, *end;	/* the whole message, for compressed names */
	const unsigned char *rd;
	size_t len;
};

/* A (possibly compressed) domain name at p, lower-case with a trailing dot. */
static int name_at(const struct rr_view *v, const unsigned char *p, char *out, size_t outlen)
{
	if (ns_name_uncompress(v->base, v->end, p, out, outlen) < 0)
		return -1;
	str_lower(out);
	size_t n = strlen(out);
	if (n + 2 > outlen)
		return -1;
	if (n == 0 || out[n - 1] != '.')
		strcpy(out + n, ".");
	return 0;
}

static int show_mx(const struct rr_view *v, char *out, size_t outlen)
{
	char host[NS_MAXDNAME];
	if (v->len < 3 || name_at(v, v->rd + 2, host, sizeof host) < 0)
		return -1;
	snprintf(out, outlen, "%u %s", (unsigned)(v->rd[0] << 8 | v->rd[1]), host);
	return 0;
}

static int show_srv(const struct rr_view *v, char *out, size_t outlen)
{
	char host[NS_MAXDNAME];
	const unsigned char *d = v->rd;
	if (v->len < 7 || name_at(v, d + 6, host, sizeof host) < 0)
		return -1;
	snprintf(out, outlen, "%u %u %u %s", (unsigned)(d[0] << 8 | d[1]),
		 (unsigned)(d[2] << 8 | d[3]), (unsigned)(d[4] << 8 | d[5]), host);
	return 0;
}

static int show_cname(const struct rr_view *v, char *out, size_t outlen)
{
	return name_at(v, v->rd, out, outlen);
}

/* TXT: the character-strings joined, non-printing octets as \DDD. */
static int show_txt(const struct rr_view *v, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < v->len;) {
		size_t l = v->rd[i++];
		if (i + l > v->len)
			return -1;
		for (size_t k = 0; k < l; k++, i++) {
			unsigned char c = v->rd[i];
			int w = isprint(c) ? snprintf(out + o, outlen - o, "%c", c)
					   : snprintf(out + o, outlen - o, "\\%03u", c);
			if (w < 0 || (size_t)w >= outlen - o)
				return -1;
			o += (size_t)w;
		}
	}
	return 0;
}

static int show_tlsa(const struct rr_view *v, char *out, size_t outlen)
{
	if (v->len < 4)
		return -1;
	/* The room is checked after the three numbers (6 to 12 characters): a
	 * check against the shortest prefix let 4092 bytes of data write past
	 * the end (found by fuzz_dns). */
	size_t o = (size_t)snprintf(out, outlen, "%u %u %u ", v->rd[0], v->rd[1], v->rd[2]);
	if (o + 2 * (v->len - 3) >= outlen)
		return -1;
	for (size_t i = 3; i < v->len; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%02x", v->rd[i]);
	return 0;
}

static int show(int type, const struct rr_view *v, char *out, size_t outlen)
{
	out[0] = 0;
	switch (type) {
	case DNS_T_MX: return show_mx(v, out, outlen);
	case DNS_T_SRV: return show_srv(v, out, outlen);
	case DNS_T_CNAME: return show_cname(v, out, outlen);
	case DNS_T_TXT: return show_txt(v, out, outlen);
	case DNS_T_TLSA: return show_tlsa(v, out, outlen);
	default: return -1;
	}
}

struct text_acc {
	int type;
	char **out;
	size_t n;
	char *buf;
};

static int text_cb(ns_msg *msg, ns_rr *rr, void *arg)
{
	struct text_acc *a = arg;
	struct rr_view v = { ns_msg_base(*msg), ns_msg_end(*msg), ns_rr_rdata(*rr),
			     ns_rr_rdlen(*rr) };
	if (show(a->type, &v, a->buf, RDATA_TEXT_MAX) < 0)
		return -1;
	a->out = xrealloc(a->out, (a->n + 1) * sizeof *a->out);
	a->out[a->n++] = xstrdup(a->buf);
	return 0;
}

enum dns_status dns_records_text(const char *name, int type, char ***out, size_t *n)
{
	struct text_acc a = { type, NULL, 0, xmalloc(RDATA_TEXT_MAX) };
	enum dns_status st = dns_each_answer(name, type, text_cb, &a);
	free(a.buf);
	if (st != DNS_OK) {
		dns_txt_free(a.out, a.n);
		a.out = NULL;
		a.n = 0;
	}
	*out = a.out;
	*n = a.n;
	return st;
}
