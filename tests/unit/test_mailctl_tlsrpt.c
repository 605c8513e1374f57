/* Unit tests: TLS report aggregation (per domain, policy and failure kind),
 * the RFC 8460 JSON document, file name, _smtp._tls record parsing. */
#include "mailctl/tlsrpt_report.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tlsrpt_record rec(const char *domain, enum tlsrpt_policy t, const char *mx,
				const char *ip, const char *result, uint64_t time)
{
	struct tlsrpt_record r;
	memset(&r, 0, sizeof r);
	r.time = time;
	snprintf(r.policy_domain, sizeof r.policy_domain, "%s", domain);
	r.type = t;
	if (t == TLSRPT_STS) {
		strcpy(r.policy_string, "version: STSv1\nmode: enforce\nmx: *.b.test\nmax_age: 600");
		strcpy(r.mx_host, "*.b.test");
	}
	snprintf(r.receiving_mx, sizeof r.receiving_mx, "%s", mx);
	snprintf(r.receiving_ip, sizeof r.receiving_ip, "%s", ip);
	strcpy(r.sending_ip, "192.0.2.1");
	snprintf(r.result, sizeof r.result, "%s", result);
	if (*result)
		strcpy(r.info, "why");
	return r;
}

static void test_aggregate_and_json(void)
{
	struct tlsrpt_agg a;
	tlsrpt_agg_init(&a);
	struct tlsrpt_record rs[] = {
		rec("b.test", TLSRPT_STS, "mx1.b.test", "192.0.2.10", "", 100),
		rec("B.test", TLSRPT_STS, "mx1.b.test", "192.0.2.10", "", 300),
		rec("b.test", TLSRPT_STS, "mx2.b.test", "192.0.2.11", "certificate-expired", 200),
		rec("b.test", TLSRPT_STS, "mx2.b.test", "192.0.2.11", "certificate-expired", 250),
		rec("b.test", TLSRPT_NONE, "mx3.b.test", "192.0.2.12", "starttls-not-supported", 260),
		rec("c.test", TLSRPT_TLSA, "mx.c.test", "192.0.2.20", "", 150),
	};
	for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
		tlsrpt_agg_add(&a, &rs[i]);
	CHECK(a.ndoms == 2);
	const struct tlsrpt_domain *b = &a.doms[0];
	CHECK_STR(b->domain, "b.test");
	CHECK(b->begin == 100 && b->end == 300);
	CHECK(b->npolicies == 2);
	CHECK(b->policies[0].ok == 2 && b->policies[0].failed == 2);
	CHECK(b->policies[0].ndetails == 1 && b->policies[0].details[0].count == 2);
	CHECK(b->policies[1].type == TLSRPT_NONE && b->policies[1].failed == 1);

	struct tlsrpt_meta meta = { "mx.a.test", "noreply-tlsrpt@mx.a.test", "R1", 100, 400 };
	size_t len;
	char *js = tlsrpt_report_json(b, &meta, &len);
	CHECK(len == strlen(js));
	json_error_t err;
	json_t *doc = json_loads(js, 0, &err);
	CHECK(doc != NULL);
	CHECK_STR(json_string_value(json_object_get(doc, "organization-name")), "mx.a.test");
	CHECK_STR(json_string_value(json_object_get(doc, "report-id")), "R1");
	json_t *range = json_object_get(doc, "date-range");
	CHECK_STR(json_string_value(json_object_get(range, "start-datetime")), "1970-01-01T00:01:40Z");
	json_t *pols = json_object_get(doc, "policies");
	CHECK(json_array_size(pols) == 2);
	json_t *p0 = json_array_get(pols, 0), *pol = json_object_get(p0, "policy");
	CHECK_STR(json_string_value(json_object_get(pol, "policy-type")), "sts");
	CHECK_STR(json_string_value(json_object_get(pol, "policy-domain")), "b.test");
	CHECK(json_array_size(json_object_get(pol, "policy-string")) == 4);
	CHECK_STR(json_string_value(json_array_get(json_object_get(pol, "mx-host"), 0)), "*.b.test");
	json_t *sum = json_object_get(p0, "summary");
	CHECK(json_integer_value(json_object_get(sum, "total-successful-session-count")) == 2);
	CHECK(json_integer_value(json_object_get(sum, "total-failure-session-count")) == 2);
	json_t *d0 = json_array_get(json_object_get(p0, "failure-details"), 0);
	CHECK_STR(json_string_value(json_object_get(d0, "result-type")), "certificate-expired");
	CHECK_STR(json_string_value(json_object_get(d0, "receiving-mx-hostname")), "mx2.b.test");
	CHECK_STR(json_string_value(json_object_get(d0, "sending-mta-ip")), "192.0.2.1");
	CHECK(json_integer_value(json_object_get(d0, "failed-session-count")) == 2);
	json_t *p1 = json_object_get(json_array_get(pols, 1), "policy");
	CHECK_STR(json_string_value(json_object_get(p1, "policy-type")), "no-policy-found");
	CHECK(json_object_get(p1, "policy-string") == NULL);
	json_decref(doc);
	free(js);
	tlsrpt_agg_free(&a);
}

static void test_bounds(void)
{
	struct tlsrpt_agg a;
	tlsrpt_agg_init(&a);
	char ip[64];
	for (int i = 0; i < TLSRPT_MAX_DETAILS + 5; i++) {
		snprintf(ip, sizeof ip, "192.0.2.%d", i % 250);
		struct tlsrpt_record r = rec("b.test", TLSRPT_NONE, "mx.b.test", ip,
					     "validation-failure", 1);
		snprintf(r.receiving_mx, sizeof r.receiving_mx, "mx%d.b.test", i);
		tlsrpt_agg_add(&a, &r);
	}
	CHECK(a.doms[0].policies[0].ndetails == TLSRPT_MAX_DETAILS);
	CHECK(a.doms[0].policies[0].failed == TLSRPT_MAX_DETAILS + 5);
	CHECK(a.dropped == 5);
	tlsrpt_agg_free(&a);
}

static void test_names(void)
{
	char *f = tlsrpt_report_filename("mx.a.test", "b.test", 100, 200, "ab");
	CHECK_STR(f, "mx.a.test!b.test!100!200!ab.json.gz");
	free(f);
	char rua[256];
	CHECK(tlsrpt_txt_rua("v=TLSRPTv1; rua=mailto:tls@b.test", rua, sizeof rua));
	CHECK_STR(rua, "mailto:tls@b.test");
	CHECK(tlsrpt_txt_rua("v=TLSRPTv1;rua=mailto:a@b.test,https://r.b.test/x ; ext=1", rua,
			     sizeof rua));
	CHECK_STR(rua, "mailto:a@b.test,https://r.b.test/x");
	CHECK(!tlsrpt_txt_rua("v=TLSRPTv2; rua=mailto:a@b.test", rua, sizeof rua));
	CHECK(!tlsrpt_txt_rua("v=TLSRPTv1", rua, sizeof rua));
	CHECK(!tlsrpt_txt_rua("v=TLSRPTv1; xrua=mailto:a@b.test", rua, sizeof rua));
	CHECK(!tlsrpt_txt_rua("v=STSv1; id=1", rua, sizeof rua));
}

int main(void)
{
	test_aggregate_and_json();
	test_bounds();
	test_names();
	return check_summary("mailctl_tlsrpt");
}
