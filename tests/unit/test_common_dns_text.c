/* test_common_dns_text.c — TLSA records as presentation text (common/dns_text.c)
 * from answers handed to common/dns directly (dns_set_answer_source). */
#include "common/dns.h"
#include "common/dns_text.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char answer_buf[65536];
static int answer_len;

static enum dns_status answer(const char *name, int type, unsigned char **ans, int *len)
{
	*ans = malloc((size_t)answer_len);
	memcpy(*ans, answer_buf, (size_t)answer_len);
	*len = answer_len;
	return DNS_OK;
}

/* An answer to "_25._tcp.mx.test TLSA" with one record: u s m and n data bytes. */
static void tlsa_answer(unsigned u, unsigned s, unsigned m, size_t n)
{
	static const unsigned char head[] = { 0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		3, '_', '2', '5', 4, '_', 't', 'c', 'p', 2, 'm', 'x', 4, 't', 'e', 's', 't', 0,
		0, 52, 0, 1 };
	unsigned char *p = answer_buf;
	memcpy(p, head, sizeof head);
	p += sizeof head;
	size_t rdlen = n + 3;
	unsigned char rr[] = { 0xc0, 12, 0, 52, 0, 1, 0, 0, 1, 0, rdlen >> 8, rdlen & 255, u, s, m };
	memcpy(p, rr, sizeof rr);
	p += sizeof rr;
	for (size_t i = 0; i < n; i++)
		*p++ = (unsigned char)i;
	answer_len = (int)(p - answer_buf);
}

static void test_tlsa(void)
{
	char **out;
	size_t n = 0;
	tlsa_answer(3, 1, 1, 4);
	CHECK(dns_records_text("_25._tcp.mx.test", DNS_T_TLSA, &out, &n) == DNS_OK && n == 1);
	if (n == 1)
		CHECK_STR(out[0], "3 1 1 00010203");
	dns_txt_free(out, n);
	/* the longest data that fits the 8 kB line after a 6-character prefix */
	tlsa_answer(3, 1, 1, 4092);
	CHECK(dns_records_text("_25._tcp.mx.test", DNS_T_TLSA, &out, &n) == DNS_OK && n == 1);
	if (n == 1)
		CHECK(strlen(out[0]) == 6 + 2 * 4092);
	dns_txt_free(out, n);
	/* the same data after a 12-character prefix does not fit: refused, where
	 * it used to be written past the end of the line buffer */
	n = 0;
	tlsa_answer(255, 255, 255, 4092);
	CHECK(dns_records_text("_25._tcp.mx.test", DNS_T_TLSA, &out, &n) == DNS_ERROR);
	dns_txt_free(out, n);
}

int main(void)
{
	dns_set_answer_source(answer);
	test_tlsa();
	return check_summary("common_dns_text");
}
