/* mailauth.c — SPF + DKIM + DMARC for one transaction, policy and header. */
#include "common/mailauth.h"
#include "common/dmarc_record.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HEADER_CAP 65536	/* header bytes kept to find From: */

struct mailauth {
	char *hostname, *ip, *helo, *mail_from;
	enum spf_result spf_helo, spf_mfrom;
	struct dkim_verifier *dkim;
	char *hdr;		/* the header block, up to HEADER_CAP */
	size_t hdr_len;
	bool hdr_done;		/* saw the empty line */
	unsigned char last[3];	/* last bytes fed, to find CRLFCRLF across pieces */
	/* Kept by mailauth_finish for mailauth_report. */
	bool finished;
	struct dkim_verdict dv;
	struct dmarc_verdict dm;
	char from[256];
	enum dmarc_policy applied;
	const char *reason;
};

static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : "";
}

struct mailauth *mailauth_begin(const char *hostname, const char *client_ip, const char *helo,
				const char *mail_from)
{
	struct mailauth *m = xcalloc(1, sizeof *m);
	char comment[256];
	m->hostname = xstrdup(hostname);
	m->ip = xstrdup(client_ip);
	m->helo = xstrdup(helo ? helo : "");
	m->mail_from = xstrdup(mail_from ? mail_from : "");
	m->spf_helo = spf_check(m->ip, m->helo, NULL, hostname, comment, sizeof comment);
	m->spf_mfrom = *m->mail_from ? spf_check(m->ip, m->helo, m->mail_from, hostname, comment,
						  sizeof comment)
				     : m->spf_helo;	/* RFC 7208 2.4: <> uses the HELO identity */
	m->dkim = dkim_verifier_new();
	m->hdr = xmalloc(HEADER_CAP);
	return m;
}

/* The value of "domain=value" in list for this domain (case-insensitive), or NULL. */
static const char *domain_setting(char *const *list, size_t n, const char *domain)
{
	size_t dl = strlen(domain);
	for (size_t i = 0; i < n; i++)
		if (dl && !strncasecmp(list[i], domain, dl) && list[i][dl] == '=')
			return list[i] + dl + 1;
	return NULL;
}

/* Refuse an SPF fail from this sender? spf_overrides first, then spf_reject. */
static bool spf_fail_refused(const struct mailauth *m, const struct mailauth_policy *p)
{
	const char *domain = *m->mail_from ? domain_of(m->mail_from) : m->helo;
	const char *v = domain_setting(p->spf_overrides, p->nspf_overrides, domain);
	return v ? !strcmp(v, "reject") : p->spf_reject;
}

enum mailauth_action mailauth_spf_action(const struct mailauth *m, const struct mailauth_policy *p,
					 char *reply, size_t replylen)
{
	if (m->spf_mfrom == SPF_FAIL && spf_fail_refused(m, p)) {
		snprintf(reply, replylen, "550 5.7.23 SPF validation failed for %s from %s",
			 *m->mail_from ? m->mail_from : m->helo, m->ip);
		return MA_REJECT;
	}
	if (m->spf_mfrom == SPF_TEMPERROR && p->temperror_defer) {
		snprintf(reply, replylen, "451 4.7.24 Temporary DNS failure checking SPF; try again later");
		return MA_TEMPFAIL;
	}
	return MA_ACCEPT;
}

void mailauth_feed(struct mailauth *m, const char *p, size_t n)
{
	dkim_verifier_feed(m->dkim, p, n);
	for (size_t i = 0; i < n && !m->hdr_done; i++) {
		if (m->hdr_len < HEADER_CAP)
			m->hdr[m->hdr_len++] = p[i];
		/* End of header: CRLFCRLF, or the message starting with CRLF. */
		if (p[i] == '\n' && m->last[2] == '\r' &&
		    ((m->last[1] == '\n' && m->last[0] == '\r') || m->hdr_len == 2))
			m->hdr_done = true;
		m->last[0] = m->last[1];
		m->last[1] = m->last[2];
		m->last[2] = (unsigned char)p[i];
	}
}

/* Domain of the RFC5322.From: exactly one From field with one address, else
 * "" (and *bad set: RFC 7489 6.6.1 says such mail cannot be evaluated). */
static void from_domain(const struct mailauth *m, char *out, size_t len, bool *bad)
{
	int froms = 0;
	out[0] = '\0';
	*bad = false;
	for (size_t i = 0; i < m->hdr_len;) {
		const char *line = m->hdr + i;
		const char *eol = memchr(line, '\n', m->hdr_len - i);
		size_t end = eol ? (size_t)(eol - m->hdr) + 1 : m->hdr_len;
		if (end - i > 5 && !strncasecmp(line, "From:", 5)) {
			froms++;
			/* The field with its folded continuation lines. */
			size_t fend = end;
			while (fend < m->hdr_len && (m->hdr[fend] == ' ' || m->hdr[fend] == '\t')) {
				const char *e2 = memchr(m->hdr + fend, '\n', m->hdr_len - fend);
				fend = e2 ? (size_t)(e2 - m->hdr) + 1 : m->hdr_len;
			}
			char *val = xstrndup(line + 5, fend - i - 5);
			int ats = 0;
			for (char *q = val; *q; q++)
				ats += *q == '@';
			char *lt = strrchr(val, '<');
			char *at = strrchr(lt ? lt : val, '@');
			if (at && ats == 1) {
				size_t n = strcspn(at + 1, "> \t\r\n;,");
				snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), at + 1);
			} else {
				*bad = true;
			}
			free(val);
		}
		i = end;
	}
	if (froms != 1)
		*bad = true;
	str_lower(out);
}

static enum dmarc_policy override_for(const struct mailauth_policy *p, const char *domain,
				      enum dmarc_policy def)
{
	const char *v = domain_setting(p->overrides, p->noverrides, domain);
	if (!v)
		return def;
	return !strcmp(v, "reject") ? DMARC_P_REJECT
	     : !strcmp(v, "quarantine") ? DMARC_P_QUARANTINE : DMARC_P_NONE;
}

static char *build_header(const struct mailauth *m, const struct dkim_verdict *dv,
			  const struct dmarc_verdict *dm, const char *from, bool from_bad)
{
	char buf[4096];
	size_t o = 0;
	o += (size_t)snprintf(buf + o, sizeof buf - o, "Authentication-Results: %s;\r\n\tspf=%s ",
			      m->hostname, spf_result_str(m->spf_mfrom));
	if (*m->mail_from)	/* both identities were checked: both are reported */
		o += (size_t)snprintf(buf + o, sizeof buf - o,
				      "smtp.mailfrom=%.300s;\r\n\tspf=%s smtp.helo=%.250s",
				      m->mail_from, spf_result_str(m->spf_helo), m->helo);
	else
		o += (size_t)snprintf(buf + o, sizeof buf - o, "smtp.helo=%.250s", m->helo);
	if (!dv->nsigs)
		o += (size_t)snprintf(buf + o, sizeof buf - o, ";\r\n\tdkim=none");
	for (int i = 0; i < dv->nsigs && o < sizeof buf - 400; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o,
				      ";\r\n\tdkim=%s%s%s%s header.d=%s header.s=%s header.b=%s",
				      dkim_result_str(dv->sigs[i].result),
				      dv->sigs[i].reason[0] ? " (" : "", dv->sigs[i].reason,
				      dv->sigs[i].reason[0] ? ")" : "", dv->sigs[i].domain,
				      dv->sigs[i].selector, dv->sigs[i].b[0] ? dv->sigs[i].b : "none");
	if (from_bad)
		o += (size_t)snprintf(buf + o, sizeof buf - o,
				      ";\r\n\tdmarc=permerror (not exactly one From address)");
	else
		o += (size_t)snprintf(buf + o, sizeof buf - o,
				      ";\r\n\tdmarc=%s (p=%s dis=%s) header.from=%.250s",
				      dmarc_result_str(dm->result), dmarc_policy_str(dm->policy),
				      dmarc_policy_str(dm->result == DMARC_RES_FAIL ? dm->disposition
										      : DMARC_P_NONE),
				      from);
	if (o > sizeof buf - 3)
		o = sizeof buf - 3;
	memcpy(buf + o, "\r\n", 3);
	return xstrdup(buf);
}

enum mailauth_action mailauth_finish(struct mailauth *m, const struct mailauth_policy *p,
				     char **header, char *reply, size_t replylen)
{
	struct dkim_verdict dv;
	struct dmarc_verdict dm = { 0 };
	char from[256];
	bool from_bad;
	dkim_verifier_finish(m->dkim, &dv);
	m->dkim = NULL;
	from_domain(m, from, sizeof from, &from_bad);
	if (!from_bad) {
		bool helo_id = !*m->mail_from;
		struct dmarc_input in = { m->ip, from, helo_id ? m->helo : domain_of(m->mail_from),
					  helo_id, m->spf_mfrom, &dv };
		dmarc_evaluate(&in, &dm);
	}
	*header = build_header(m, &dv, &dm, from, from_bad);
	enum mailauth_action a = MA_ACCEPT;
	m->finished = !from_bad;
	m->dv = dv;
	m->dm = dm;
	snprintf(m->from, sizeof m->from, "%s", from);
	m->applied = DMARC_P_NONE;
	m->reason = "";
	if (dm.result == DMARC_RES_FAIL) {
		enum dmarc_policy d = override_for(p, dm.policy_domain, dm.disposition);
		m->applied = d;
		m->reason = d != dm.disposition ? "local_policy"
			  : dm.disposition != dm.policy ? "sampled_out" : "";
		if (d == DMARC_P_REJECT) {
			snprintf(reply, replylen, "550 5.7.1 Rejected by the DMARC policy of %s",
				 dm.policy_domain);
			a = MA_REJECT;
		} else if (d == DMARC_P_QUARANTINE) {
			a = MA_QUARANTINE;
		}
	} else if (dm.result == DMARC_RES_TEMPERROR && p->temperror_defer) {
		snprintf(reply, replylen, "451 4.7.5 Temporary DNS failure checking DMARC; try again later");
		a = MA_TEMPFAIL;
	}
	return a;
}

bool mailauth_report(const struct mailauth *m, struct dmarc_record *r)
{
	const struct dmarc_verdict *dm = &m->dm;
	if (!m->finished || !dm->record[0] || dm->result == DMARC_RES_PERMERROR)
		return false;
	memset(r, 0, sizeof *r);
	r->time = (uint64_t)time(NULL);
	snprintf(r->ip, sizeof r->ip, "%s", m->ip);
	snprintf(r->header_from, sizeof r->header_from, "%s", m->from);
	snprintf(r->policy_domain, sizeof r->policy_domain, "%s", dm->policy_domain);
	r->p = dm->p;
	r->sp = dm->sp;
	r->pct = dm->pct < 0 ? 0 : dm->pct > 100 ? 100 : (unsigned)dm->pct;
	r->adkim = dm->adkim;
	r->aspf = dm->aspf;
	snprintf(r->fo, sizeof r->fo, "%s", dm->fo);
	r->disposition = m->applied;
	r->dkim_aligned = dm->dkim_aligned;
	r->spf_aligned = dm->spf_aligned;
	snprintf(r->reason, sizeof r->reason, "%s", m->reason);
	snprintf(r->env_from, sizeof r->env_from, "%s", domain_of(m->mail_from));
	r->spf_helo = !*m->mail_from;
	snprintf(r->spf_domain, sizeof r->spf_domain, "%s",
		 r->spf_helo ? m->helo : domain_of(m->mail_from));
	snprintf(r->spf_result, sizeof r->spf_result, "%s", spf_result_str(m->spf_mfrom));
	for (int i = 0; i < m->dv.nsigs && r->ndkim < DMARC_REC_MAX_DKIM; i++) {
		const struct dkim_sig_result *s = &m->dv.sigs[i];
		if (!s->domain[0])
			continue;	/* no d=: nothing a report could name */
		struct dmarc_rec_dkim *d = &r->dkim[r->ndkim++];
		snprintf(d->domain, sizeof d->domain, "%s", s->domain);
		snprintf(d->selector, sizeof d->selector, "%s", s->selector);
		snprintf(d->result, sizeof d->result, "%s", dkim_result_str(s->result));
	}
	snprintf(r->rua, sizeof r->rua, "%s", dm->rua);
	str_lower(r->header_from);
	str_lower(r->env_from);
	str_lower(r->spf_domain);
	return dmarc_record_valid(r);
}

void mailauth_free(struct mailauth *m)
{
	if (!m)
		return;
	if (m->dkim) {
		struct dkim_verdict dv;
		dkim_verifier_finish(m->dkim, &dv);
	}
	free(m->hostname);
	free(m->ip);
	free(m->helo);
	free(m->mail_from);
	free(m->hdr);
	free(m);
}

bool mailauth_is_forged(const char *field, size_t len, const char *hostname, bool complete)
{
	static const char name[] = "Authentication-Results:";
	size_t nl = sizeof name - 1;
	if (len <= nl || strncasecmp(field, name, nl))
		return false;
	size_t i = nl;
	/* Skip folding white space and comments before the authserv-id. */
	while (i < len && (isspace((unsigned char)field[i]) || field[i] == '(')) {
		if (field[i] == '(') {
			int depth = 0;
			for (; i < len; i++) {
				depth += field[i] == '(';
				depth -= field[i] == ')';
				if (depth == 0)
					break;
			}
		}
		i++;
	}
	/* Only the beginning of an overlong field: if it ends before the
	 * authserv-id shows, the field cannot be told from ours. */
	size_t hl = strlen(hostname);
	if (!complete && (i >= len || len - i <= hl))
		return true;
	if (len - i < hl || strncasecmp(field + i, hostname, hl))
		return false;
	char after = i + hl < len ? field[i + hl] : ';';
	return after == ';' || after == ' ' || after == '\t' || after == '\r' || after == '\n' ||
	       after == '(';
}
