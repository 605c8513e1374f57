/* remote_tlsrpt.c — what the remote agent tells TLS reporting (RFC 8460): one
 * record per TLS outcome toward an MX host (the STARTTLS of each new session,
 * or a policy that kept us from trying a host), gathered on the job by the
 * worker thread and sent to queued with the job's results by the event loop
 * (remote.c). queued keeps them for `mailctl tlsrpt report`. */
#include "deliverd/remote_int.h"
#include "deliverd/agent.h"
#include "deliverd/dane.h"
#include "common/queue_proto.h"
#include "common/sts_policy.h"
#include "common/util.h"

#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RPT_JOB_MAX 32	/* outcomes kept per job: every try of every MX, bounded */

const char *rpt_cert_result(long verify_err)
{
	switch (verify_err) {
	case X509_V_ERR_DANE_NO_MATCH:
		return "tlsa-invalid";
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "certificate-host-mismatch";
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "certificate-expired";
	default:
		return "certificate-not-trusted";
	}
}

/* Append one line to s (cap bytes) if it fits whole. */
static void add_line(char *s, size_t cap, const char *line)
{
	size_t have = strlen(s), need = strlen(line) + (have ? 1 : 0);
	if (have + need + 1 > cap)
		return;
	snprintf(s + have, cap - have, "%s%s", have ? "\n" : "", line);
}

/* RFC 8460 4.3 policy-string: the policy's lines (MTA-STS: the policy file
 * as we understood it; DANE: the TLSA records in presentation form). */
static void policy_text(const struct rpt_policy *p, struct tlsrpt_record *r)
{
	char line[2 * TLSA_DATA_MAX + 32];
	if (p->type == TLSRPT_STS && p->sts) {
		add_line(r->policy_string, sizeof r->policy_string, "version: STSv1");
		snprintf(line, sizeof line, "mode: %s", sts_mode_name(p->sts->mode));
		add_line(r->policy_string, sizeof r->policy_string, line);
		for (size_t i = 0; i < p->sts->nmx; i++) {
			snprintf(line, sizeof line, "mx: %s", p->sts->mx[i]);
			add_line(r->policy_string, sizeof r->policy_string, line);
			size_t have = strlen(r->mx_host);
			if (have + strlen(p->sts->mx[i]) + 2 < sizeof r->mx_host)
				snprintf(r->mx_host + have, sizeof r->mx_host - have, "%s%s",
					 have ? "," : "", p->sts->mx[i]);
		}
		snprintf(line, sizeof line, "max_age: %llu", (unsigned long long)p->sts->max_age);
		add_line(r->policy_string, sizeof r->policy_string, line);
	} else if (p->type == TLSRPT_TLSA && p->tlsa) {
		for (size_t i = 0; i < p->tlsa->n; i++) {
			const struct tlsa_rec *t = &p->tlsa->rec[i];
			int n = snprintf(line, sizeof line, "%u %u %u ", t->usage, t->selector, t->mtype);
			for (size_t k = 0; k < t->len && n + 3 < (int)sizeof line; k++)
				n += snprintf(line + n, sizeof line - (size_t)n, "%02x", t->data[k]);
			add_line(r->policy_string, sizeof r->policy_string, line);
		}
	}
}

void rpt_note(struct rjob *j, const struct rpt_policy *p, const char *mx, const char *ip,
	      const char *local, const char *result, const char *info)
{
	if (rconf.relayhost[0] || j->site_hop || j->nrpt >= RPT_JOB_MAX)
		return;
	if (!*result && p->mismatch) {
		result = "validation-failure";	/* delivered (testing), but not as the policy says */
		info = p->mismatch;
	}
	if (!j->rpt)
		j->rpt = xcalloc(RPT_JOB_MAX, sizeof *j->rpt);
	struct tlsrpt_record *r = &j->rpt[j->nrpt];
	memset(r, 0, sizeof *r);
	r->time = (uint64_t)time(NULL);
	r->type = p->type;
	snprintf(r->policy_domain, sizeof r->policy_domain, "%s", p->domain);
	policy_text(p, r);
	snprintf(r->receiving_mx, sizeof r->receiving_mx, "%s", mx);
	snprintf(r->receiving_ip, sizeof r->receiving_ip, "%s", ip ? ip : "");
	snprintf(r->sending_ip, sizeof r->sending_ip, "%s", local ? local : "");
	snprintf(r->result, sizeof r->result, "%s", result);
	/* one line of plain text: the reason as we logged it */
	size_t k = 0;
	for (const char *s = info ? info : ""; *s && k + 1 < sizeof r->info; s++)
		r->info[k++] = (unsigned char)*s < ' ' || *s == 0x7f ? ' ' : *s;
	r->info[k] = '\0';
	if (tlsrpt_record_valid(r))
		j->nrpt++;
}

void rpt_send(struct rjob *j, struct agent *a)
{
	for (size_t i = 0; i < j->nrpt; i++) {
		struct ipc_msg m;
		ipc_msg_init(&m, QUEUE_TLSRPT_RECORD, 0);
		tlsrpt_record_put(&m, &j->rpt[i]);
		agent_send(a, j->gen, &m);
	}
	free(j->rpt);
	j->rpt = NULL;
	j->nrpt = 0;
}
