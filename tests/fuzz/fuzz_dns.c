/* fuzz_dns.c — libFuzzer target for what tern reads out of DNS answers: the
 * input is the answer message a server sent (common/dns answers every query
 * with it). It goes through each typed reader (MX, A, AAAA, TXT, PTR), the
 * presentation text of `mailctl dns --check` (MX, SRV, CNAME, TXT, TLSA), the
 * TXT records' readers (MTA-STS id, TLS-RPT rua) and, as RDATA, the TLSA
 * reader of DANE lookups (libunbound hands us the RDATA).
 *
 * Invariants: MX hosts are NUL-terminated and sorted by preference; every
 * address is one inet_pton reads back; a TXT string is no longer than the
 * answer; a presentation line fits its buffer; a TLSA record's data fits.
 * Run: make fuzz (long) or make fuzz-smoke (part of make check). */
#include "common/dns.h"
#include "common/dns_text.h"
#include "common/dnssec.h"
#include "common/sts_policy.h"
#include "mailctl/tlsrpt_report.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX 65536	/* common/dns's answer buffer: no answer is longer */

static const uint8_t *in;
static size_t in_len;

static enum dns_status answer(const char *name, int type, unsigned char **ans, int *len)
{
	size_t n = in_len < ANSWER_MAX ? in_len : ANSWER_MAX;
	*ans = malloc(n ? n : 1);
	if (!*ans)
		abort();
	memcpy(*ans, in, n);
	*len = (int)n;
	return DNS_OK;
}

static void check_mx(void)
{
	struct dns_mx mx[8];
	size_t n = 0;
	dns_mx("example.test", mx, 8, &n);
	if (n > 8)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!memchr(mx[i].host, 0, sizeof mx[i].host) || (i && mx[i - 1].pref > mx[i].pref))
			abort();
}

static void check_addrs(void)
{
	char a[4][64];
	unsigned char b[16];
	size_t n = 0;
	dns_a("example.test", a, 4, &n);
	for (size_t i = 0; i < n; i++)
		if (n > 4 || inet_pton(AF_INET, a[i], b) != 1)
			abort();
	n = 0;
	dns_aaaa("example.test", a, 4, &n);
	for (size_t i = 0; i < n; i++)
		if (n > 4 || inet_pton(AF_INET6, a[i], b) != 1)
			abort();
	char ptr[256];
	if (dns_ptr("192.0.2.1", ptr, sizeof ptr) == DNS_OK && !memchr(ptr, 0, sizeof ptr))
		abort();
}

static void check_txt(void)
{
	char **txt, id[STS_ID_MAX + 1], rua[512];
	size_t n;
	if (dns_txt("example.test", &txt, &n) != DNS_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		if (strlen(txt[i]) >= in_len)
			abort();
		if (sts_txt_parse(txt[i], id) && (!*id || strlen(id) > STS_ID_MAX))
			abort();
		if (tlsrpt_txt_rua(txt[i], rua, sizeof rua) && (!*rua || strlen(rua) >= sizeof rua))
			abort();
	}
	dns_txt_free(txt, n);
}

static void check_text(void)
{
	static const int types[] = { DNS_T_MX, DNS_T_SRV, DNS_T_CNAME, DNS_T_TXT, DNS_T_TLSA };
	for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
		char **out;
		size_t n = 0;
		if (dns_records_text("example.test", types[t], &out, &n) != DNS_OK)
			continue;
		for (size_t i = 0; i < n; i++)
			if (strlen(out[i]) >= 8192)
				abort();
		dns_txt_free(out, n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in = data;
	in_len = size;
	dns_set_answer_source(answer);
	check_mx();
	check_addrs();
	check_txt();
	check_text();
	static struct tlsa_rec t;
	if (dnssec_tlsa_rdata(data, (int)(size < ANSWER_MAX ? size : ANSWER_MAX), &t) &&
	    (t.len > TLSA_DATA_MAX || (size_t)t.len + 3 != size))
		abort();
	return 0;
}
