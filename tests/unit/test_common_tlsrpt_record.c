/* Unit tests: TLS report records — line and IPC round trips, escaping of the
 * policy text, bad values refused. */
#include "common/tlsrpt_record.h"
#include "common/ipc.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sample(struct tlsrpt_record *r)
{
	memset(r, 0, sizeof *r);
	r->time = 1795000000;
	strcpy(r->policy_domain, "dest.test");
	r->type = TLSRPT_STS;
	strcpy(r->policy_string, "version: STSv1\nmode: enforce\nmx: *.dest.test\nmax_age: 86400");
	strcpy(r->mx_host, "*.dest.test,mx.dest.test");
	strcpy(r->receiving_mx, "mx1.dest.test");
	strcpy(r->receiving_ip, "2001:db8::25");
	strcpy(r->sending_ip, "192.0.2.1");
	strcpy(r->result, "certificate-host-mismatch");
	strcpy(r->info, "certificate of mx1.dest.test did not verify (100% sure)");
}

static void test_line_round_trip(void)
{
	struct tlsrpt_record r, back;
	sample(&r);
	char *line = tlsrpt_record_format(&r);
	CHECK(line != NULL);
	CHECK(!strncmp(line, "T1\t1795000000\tdest.test\tsts\tversion:%20STSv1%0Amode:", 50));
	CHECK(strchr(line, '\n') == line + strlen(line) - 1);
	CHECK(strstr(line, "%28100%25%20sure%29") != NULL);
	CHECK(tlsrpt_record_parse(line, &back));
	CHECK(!memcmp(&r, &back, sizeof r));
	free(line);
	/* a success and no policy */
	sample(&r);
	r.type = TLSRPT_NONE;
	r.policy_string[0] = r.mx_host[0] = r.result[0] = r.info[0] = r.sending_ip[0] = '\0';
	line = tlsrpt_record_format(&r);
	CHECK(line && tlsrpt_record_parse(line, &back) && back.type == TLSRPT_NONE &&
	      !back.result[0]);
	free(line);
}

static void test_refused(void)
{
	struct tlsrpt_record r, back;
	sample(&r);
	strcpy(r.result, "no-such-result");
	CHECK(tlsrpt_record_format(&r) == NULL);
	sample(&r);
	strcpy(r.receiving_ip, "not-an-ip");
	CHECK(tlsrpt_record_format(&r) == NULL);
	sample(&r);
	strcpy(r.policy_domain, "a b");
	CHECK(!tlsrpt_record_valid(&r));
	sample(&r);
	strcpy(r.info, "a\ttab");	/* one line of text: the agent makes control characters spaces */
	CHECK(!tlsrpt_record_valid(&r));
	sample(&r);
	r.type = (enum tlsrpt_policy)7;
	CHECK(!tlsrpt_record_valid(&r));
	/* damaged lines */
	CHECK(!tlsrpt_record_parse("T1\t1\tdest.test\tsts", &back));
	CHECK(!tlsrpt_record_parse("D1\t1\tdest.test\tsts\t\t\t\t\t\t\t", &back));
	CHECK(!tlsrpt_record_parse("T1\t1\tdest.test\tbogus\t\t\tmx\t\t\t\t\n", &back));
	CHECK(!tlsrpt_record_parse("T1\t1\tdest.test\tsts\t%00\t\tmx\t\t\t\t\n", &back));
	CHECK(tlsrpt_record_parse("T1\t1\tdest.test\tno-policy-found\t\t\tmx\t\t\t\t\n", &back));
	CHECK(!tlsrpt_record_parse("T1\t\tdest.test\tno-policy-found\t\t\tmx\t\t\t\t\n", &back));
	char *big = xmalloc(TLSRPT_REC_LINE_MAX + 10);
	memset(big, 'a', TLSRPT_REC_LINE_MAX + 9);
	memcpy(big, "T1\t1\t", 5);
	big[TLSRPT_REC_LINE_MAX + 9] = '\0';
	CHECK(!tlsrpt_record_parse(big, &back));
	free(big);
}

static void test_ipc_round_trip(void)
{
	struct tlsrpt_record r, back;
	struct ipc_msg m, d;
	sample(&r);
	ipc_msg_init(&m, 1, 7);
	tlsrpt_record_put(&m, &r);
	size_t len;
	unsigned char *buf = ipc_encode(&m, &len);
	CHECK(ipc_decode(buf, len, &d) == (long)len);
	CHECK(tlsrpt_record_get(&d, &back));
	CHECK(!memcmp(&r, &back, sizeof r));
	ipc_msg_free(&d);
	free(buf);
	ipc_msg_free(&m);
	/* a trailing field is refused */
	ipc_msg_init(&m, 1, 8);
	tlsrpt_record_put(&m, &r);
	ipc_put_str(&m, "extra");
	buf = ipc_encode(&m, &len);
	CHECK(ipc_decode(buf, len, &d) == (long)len);
	CHECK(!tlsrpt_record_get(&d, &back));
	ipc_msg_free(&d);
	free(buf);
	ipc_msg_free(&m);
}

int main(void)
{
	test_line_round_trip();
	test_refused();
	test_ipc_round_trip();
	return check_summary("common_tlsrpt_record");
}
