/* tlsrpt_report.c — aggregation of TLS report records and the RFC 8460
 * report document (see tlsrpt_report.h). */
#include "mailctl/tlsrpt_report.h"
#include "common/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void tlsrpt_agg_init(struct tlsrpt_agg *a)
{
	memset(a, 0, sizeof *a);
	a->index = json_object();
}

static struct tlsrpt_domain *domain_of(struct tlsrpt_agg *a, const char *name)
{
	char key[256];
	size_t i;
	for (i = 0; name[i] && i + 1 < sizeof key; i++)
		key[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
	key[i] = '\0';
	json_t *pos = json_object_get(a->index, key);
	if (pos)
		return &a->doms[json_integer_value(pos)];
	if (a->ndoms >= TLSRPT_MAX_DOMAINS)
		return NULL;
	if (a->ndoms == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->doms = xrealloc(a->doms, a->cap * sizeof *a->doms);
	}
	struct tlsrpt_domain *d = &a->doms[a->ndoms];
	memset(d, 0, sizeof *d);
	snprintf(d->domain, sizeof d->domain, "%s", key);
	json_object_set_new(a->index, key, json_integer((json_int_t)a->ndoms++));
	return d;
}

static struct tlsrpt_policy_sum *policy_of(struct tlsrpt_domain *d, const struct tlsrpt_record *r)
{
	for (size_t i = 0; i < d->npolicies; i++) {
		struct tlsrpt_policy_sum *p = &d->policies[i];
		if (p->type == r->type && !strcmp(p->policy_string, r->policy_string) &&
		    !strcmp(p->mx_host, r->mx_host))
			return p;
	}
	if (d->npolicies >= TLSRPT_MAX_POLICIES)
		return NULL;
	d->policies = xrealloc(d->policies, (d->npolicies + 1) * sizeof *d->policies);
	struct tlsrpt_policy_sum *p = &d->policies[d->npolicies++];
	memset(p, 0, sizeof *p);
	p->type = r->type;
	memcpy(p->policy_string, r->policy_string, sizeof p->policy_string);
	memcpy(p->mx_host, r->mx_host, sizeof p->mx_host);
	return p;
}

static struct tlsrpt_detail *detail_of(struct tlsrpt_policy_sum *p, const struct tlsrpt_record *r)
{
	for (size_t i = 0; i < p->ndetails; i++) {
		struct tlsrpt_detail *t = &p->details[i];
		if (!strcmp(t->result, r->result) && !strcmp(t->sending_ip, r->sending_ip) &&
		    !strcasecmp(t->receiving_mx, r->receiving_mx) &&
		    !strcmp(t->receiving_ip, r->receiving_ip))
			return t;
	}
	if (p->ndetails >= TLSRPT_MAX_DETAILS)
		return NULL;
	p->details = xrealloc(p->details, (p->ndetails + 1) * sizeof *p->details);
	struct tlsrpt_detail *t = &p->details[p->ndetails++];
	memset(t, 0, sizeof *t);
	memcpy(t->result, r->result, sizeof t->result);
	memcpy(t->sending_ip, r->sending_ip, sizeof t->sending_ip);
	memcpy(t->receiving_mx, r->receiving_mx, sizeof t->receiving_mx);
	memcpy(t->receiving_ip, r->receiving_ip, sizeof t->receiving_ip);
	memcpy(t->info, r->info, sizeof t->info);	/* the first one seen speaks for all */
	return t;
}

void tlsrpt_agg_add(struct tlsrpt_agg *a, const struct tlsrpt_record *r)
{
	struct tlsrpt_domain *d = domain_of(a, r->policy_domain);
	struct tlsrpt_policy_sum *p = d ? policy_of(d, r) : NULL;
	if (!p) {
		a->dropped++;
		return;
	}
	if (!d->begin || r->time < d->begin)
		d->begin = r->time;
	if (r->time > d->end)
		d->end = r->time;
	if (!r->result[0]) {
		p->ok++;
		return;
	}
	p->failed++;
	struct tlsrpt_detail *t = detail_of(p, r);
	if (t)
		t->count++;
	else
		a->dropped++;	/* counted in the summary, not detailed */
}

void tlsrpt_agg_free(struct tlsrpt_agg *a)
{
	for (size_t i = 0; i < a->ndoms; i++) {
		for (size_t k = 0; k < a->doms[i].npolicies; k++)
			free(a->doms[i].policies[k].details);
		free(a->doms[i].policies);
	}
	free(a->doms);
	json_decref(a->index);
	memset(a, 0, sizeof *a);
}

/* RFC 3339 date-time in UTC */
static json_t *datetime(uint64_t t)
{
	char b[32];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(b);
}

/* A string split at sep into a JSON array (empty pieces left out). */
static json_t *split_array(const char *s, char sep)
{
	json_t *arr = json_array();
	const char *p = s;
	while (*p) {
		const char *e = strchr(p, sep);
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n)
			json_array_append_new(arr, json_stringn(p, n));
		p += n + (e ? 1 : 0);
	}
	return arr;
}

static json_t *policy_json(const struct tlsrpt_policy_sum *p, const char *domain)
{
	json_t *pol = json_object();
	json_object_set_new(pol, "policy-type", json_string(tlsrpt_policy_name(p->type)));
	if (p->type != TLSRPT_NONE)
		json_object_set_new(pol, "policy-string", split_array(p->policy_string, '\n'));
	json_object_set_new(pol, "policy-domain", json_string(domain));
	if (p->mx_host[0])
		json_object_set_new(pol, "mx-host", split_array(p->mx_host, ','));
	json_t *sum = json_object();
	json_object_set_new(sum, "total-successful-session-count", json_integer((json_int_t)p->ok));
	json_object_set_new(sum, "total-failure-session-count", json_integer((json_int_t)p->failed));
	json_t *details = json_array();
	for (size_t i = 0; i < p->ndetails; i++) {
		const struct tlsrpt_detail *t = &p->details[i];
		json_t *d = json_object();
		json_object_set_new(d, "result-type", json_string(t->result));
		if (t->sending_ip[0])
			json_object_set_new(d, "sending-mta-ip", json_string(t->sending_ip));
		if (t->receiving_mx[0])
			json_object_set_new(d, "receiving-mx-hostname", json_string(t->receiving_mx));
		if (t->receiving_ip[0])
			json_object_set_new(d, "receiving-ip", json_string(t->receiving_ip));
		json_object_set_new(d, "failed-session-count", json_integer((json_int_t)t->count));
		if (t->info[0])
			json_object_set_new(d, "additional-information", json_string(t->info));
		json_array_append_new(details, d);
	}
	json_t *o = json_object();
	json_object_set_new(o, "policy", pol);
	json_object_set_new(o, "summary", sum);
	if (p->ndetails)
		json_object_set_new(o, "failure-details", details);
	else
		json_decref(details);
	return o;
}

char *tlsrpt_report_json(const struct tlsrpt_domain *d, const struct tlsrpt_meta *m, size_t *len)
{
	json_t *doc = json_object(), *range = json_object(), *pols = json_array();
	json_object_set_new(doc, "organization-name", json_string(m->org_name));
	json_object_set_new(range, "start-datetime", datetime(m->begin));
	json_object_set_new(range, "end-datetime", datetime(m->end));
	json_object_set_new(doc, "date-range", range);
	json_object_set_new(doc, "contact-info", json_string(m->contact));
	json_object_set_new(doc, "report-id", json_string(m->report_id));
	for (size_t i = 0; i < d->npolicies; i++)
		json_array_append_new(pols, policy_json(&d->policies[i], d->domain));
	json_object_set_new(doc, "policies", pols);
	char *s = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!s)
		fatal("out of memory writing a TLS report");
	char *out = xstrdup(s);	/* ours to free with free() whatever jansson's allocator */
	free(s);
	*len = strlen(out);
	return out;
}

char *tlsrpt_report_filename(const char *submitter, const char *domain, uint64_t begin,
			     uint64_t end, const char *unique)
{
	return xasprintf("%s!%s!%llu!%llu!%s.json.gz", submitter, domain, (unsigned long long)begin,
			 (unsigned long long)end, unique);
}

bool tlsrpt_txt_rua(const char *txt, char *out, size_t len)
{
	/* RFC 8460 3: "v=TLSRPTv1" first, then "; rua=URI[,URI]" */
	if (strncmp(txt, "v=TLSRPTv1", 10) || (txt[10] && txt[10] != ';' && txt[10] != ' '))
		return false;
	out[0] = '\0';
	const char *p = strstr(txt + 10, "rua=");
	if (!p || (p[-1] != ';' && p[-1] != ' '))
		return false;
	p += 4;
	size_t n = strcspn(p, ";");
	while (n && p[n - 1] == ' ')
		n--;
	if (!n || n >= len)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}
