/* tlsrpt_record.c — TLS report records: checks, IPC fields, log lines. */
#include "common/tlsrpt_record.h"
#include "common/ipc.h"
#include "common/recline.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define NFIELDS 10
#define FIELD_CAP TLSRPT_POLICY_MAX

/* RFC 8460 4.3 result-type (and "" for a success) */
static const char *const results[] = {
	"", "starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
	"certificate-not-trusted", "validation-failure", "tlsa-invalid", "dnssec-invalid",
	"dane-required", "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid",
};

static const char *const types[] = { "no-policy-found", "sts", "tlsa" };

const char *tlsrpt_policy_name(enum tlsrpt_policy t)
{
	return (unsigned)t < ARRAY_LEN(types) ? types[t] : "no-policy-found";
}

/* Printable, no spaces (except where text is allowed), within cap. */
static bool text_ok(const char *s, size_t cap, bool spaces, bool may_be_empty)
{
	size_t n = strnlen(s, cap);
	if (n == cap || (!n && !may_be_empty))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0x7f || (c < ' ' && !(spaces && c == '\n')) || (c == ' ' && !spaces))
			return false;
	}
	return true;
}

static bool ip_ok(const char *ip, bool may_be_empty)
{
	unsigned char b[16];
	if (!*ip)
		return may_be_empty;
	return inet_pton(AF_INET, ip, b) == 1 || inet_pton(AF_INET6, ip, b) == 1;
}

bool tlsrpt_record_valid(const struct tlsrpt_record *r)
{
	bool known = false;
	for (size_t i = 0; i < ARRAY_LEN(results) && !known; i++)
		known = strnlen(r->result, sizeof r->result) < sizeof r->result &&
			!strcmp(r->result, results[i]);
	return known && (unsigned)r->type < ARRAY_LEN(types) &&
	       text_ok(r->policy_domain, sizeof r->policy_domain, false, false) &&
	       text_ok(r->policy_string, sizeof r->policy_string, true, true) &&
	       text_ok(r->mx_host, sizeof r->mx_host, false, true) &&
	       text_ok(r->receiving_mx, sizeof r->receiving_mx, false, true) &&
	       ip_ok(r->receiving_ip, true) && ip_ok(r->sending_ip, true) &&
	       text_ok(r->info, sizeof r->info, true, true) && !strchr(r->info, '\n');
}

void tlsrpt_record_put(struct ipc_msg *m, const struct tlsrpt_record *r)
{
	ipc_put_u64(m, r->time);
	ipc_put_str(m, r->policy_domain);
	ipc_put_u32(m, (uint32_t)r->type);
	ipc_put_str(m, r->policy_string);
	ipc_put_str(m, r->mx_host);
	ipc_put_str(m, r->receiving_mx);
	ipc_put_str(m, r->receiving_ip);
	ipc_put_str(m, r->sending_ip);
	ipc_put_str(m, r->result);
	ipc_put_str(m, r->info);
}

bool tlsrpt_record_get(struct ipc_msg *m, struct tlsrpt_record *r)
{
	memset(r, 0, sizeof *r);
	r->time = ipc_get_u64(m);
	bool ok = ipc_get_strbuf(m, r->policy_domain, sizeof r->policy_domain);
	r->type = (enum tlsrpt_policy)ipc_get_u32(m);
	ok = ok && ipc_get_strbuf(m, r->policy_string, sizeof r->policy_string) &&
	     ipc_get_strbuf(m, r->mx_host, sizeof r->mx_host) &&
	     ipc_get_strbuf(m, r->receiving_mx, sizeof r->receiving_mx) &&
	     ipc_get_strbuf(m, r->receiving_ip, sizeof r->receiving_ip) &&
	     ipc_get_strbuf(m, r->sending_ip, sizeof r->sending_ip) &&
	     ipc_get_strbuf(m, r->result, sizeof r->result) && ipc_get_strbuf(m, r->info, sizeof r->info);
	return ok && !m->bad && ipc_end(m);
}

char *tlsrpt_record_format(const struct tlsrpt_record *r)
{
	if (!tlsrpt_record_valid(r))
		return NULL;
	struct recline o;
	recline_begin(&o, "T1", TLSRPT_REC_LINE_MAX);
	recline_num(&o, r->time);
	recline_field(&o, r->policy_domain);
	recline_field(&o, tlsrpt_policy_name(r->type));
	recline_field(&o, r->policy_string);
	recline_field(&o, r->mx_host);
	recline_field(&o, r->receiving_mx);
	recline_field(&o, r->receiving_ip);
	recline_field(&o, r->sending_ip);
	recline_field(&o, r->result);
	recline_field(&o, r->info);
	return recline_end(&o);
}

static bool copy(char *dst, size_t cap, const char *src)
{
	return strlcpy_t(dst, src, cap) < cap;
}

bool tlsrpt_record_parse(const char *line, struct tlsrpt_record *r)
{
	char *f = xmalloc(NFIELDS * FIELD_CAP);
	memset(r, 0, sizeof *r);
	int n = recline_split(line, "T1", TLSRPT_REC_LINE_MAX, f, FIELD_CAP, NFIELDS);
#define F(i) (f + (size_t)(i) * FIELD_CAP)
	bool ok = n == NFIELDS && *F(0) && parse_u64(F(0), UINT64_MAX, &r->time) &&
		  copy(r->policy_domain, sizeof r->policy_domain, F(1));
	r->type = ARRAY_LEN(types);
	for (size_t i = 0; ok && i < ARRAY_LEN(types); i++)
		if (!strcmp(F(2), types[i]))
			r->type = (enum tlsrpt_policy)i;
	ok = ok && copy(r->policy_string, sizeof r->policy_string, F(3)) &&
	     copy(r->mx_host, sizeof r->mx_host, F(4)) &&
	     copy(r->receiving_mx, sizeof r->receiving_mx, F(5)) &&
	     copy(r->receiving_ip, sizeof r->receiving_ip, F(6)) &&
	     copy(r->sending_ip, sizeof r->sending_ip, F(7)) &&
	     copy(r->result, sizeof r->result, F(8)) && copy(r->info, sizeof r->info, F(9));
#undef F
	free(f);
	return ok && tlsrpt_record_valid(r);
}
