/* inbound.c — SPF/DKIM/DMARC for one session, driven from txn.c. */
#include "smtpd/inbound.h"
#include "smtpd/peer.h"
#include "smtpd/session.h"
#include "common/dmarc_record.h"
#include "common/dns.h"
#include "common/log.h"
#include "common/mailauth.h"
#include "common/queue_proto.h"
#include "common/util.h"
#include "common/workq.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mailauth_policy policy;
static bool enabled;
static struct workq *work;

void inbound_init(struct server *srv, const struct cfg *conf, const char *dns_server)
{
	enabled = cfg_bool(conf, "mail_auth");
	policy.spf_reject = cfg_bool(conf, "spf_fail_reject");
	policy.temperror_defer = !strcmp(cfg_str(conf, "dns_temperror"), "defer");
	policy.noverrides = cfg_list(conf, "dmarc_overrides", &policy.overrides);
	policy.nspf_overrides = cfg_list(conf, "spf_overrides", &policy.spf_overrides);
	if (dns_init(dns_server, 5) < 0)
		fatal("bad dns_server \"%s\" in tern.conf", dns_server);
	if (enabled && dmarc_init(NULL) < 0)
		log_warn("DMARC: cannot read the public suffix list %s; DMARC checks will temperror",
			 DMARC_PSL_PATH);
	work = workq_new(srv->base, (int)cfg_int(conf, "mail_auth_threads"));
}

bool inbound_applies(const struct session *s)
{
	if (!enabled || s->kind != L_SMTP || s->auth_user)
		return false;
	return !s->trusted;
}

/* A check running on a worker; the session is found again by id when it is
 * done (it may have gone meanwhile). */
struct check {
	struct server *srv;
	uint64_t sid;
	struct mailauth *m;
	char *ip, *helo, *from, *hostname;
	enum mailauth_action action;
	char reply[256];
	char *header;
};

static struct session *find_session(struct server *srv, uint64_t id)
{
	for (struct session *s = srv->sessions; s; s = s->next)
		if (s->id == id && !s->reaping)
			return s;
	return NULL;
}

static void check_free(struct check *c)
{
	mailauth_free(c->m);
	free(c->ip);
	free(c->helo);
	free(c->from);
	free(c->hostname);
	free(c->header);
	free(c);
}

static void spf_work(void *arg)
{
	struct check *c = arg;
	c->m = mailauth_begin(c->hostname, c->ip, c->helo, c->from);
	c->action = mailauth_spf_action(c->m, &policy, c->reply, sizeof c->reply);
}

static void spf_done(void *arg)
{
	struct check *c = arg;
	struct session *s = find_session(c->srv, c->sid);
	if (!s) {
		check_free(c);
		return;
	}
	if (c->action == MA_ACCEPT) {
		s->tx.auth = c->m;
		c->m = NULL;
	} else {
		log_info("session %llx: reject: client=%s from=<%s>: %s", (unsigned long long)s->id,
			 s->ip, s->tx.mail.addr, c->reply);
	}
	txn_mail_checked(s, c->action == MA_ACCEPT ? NULL : c->reply);
	check_free(c);
}

void inbound_mail(struct session *s)
{
	struct check *c = xcalloc(1, sizeof *c);
	c->srv = s->srv;
	c->sid = s->id;
	c->ip = xstrdup(s->ip);
	c->helo = xstrdup(s->helo);
	c->from = xstrdup(s->tx.mail.addr);
	c->hostname = xstrdup(s->srv->hostname);
	workq_submit(work, spf_work, spf_done, c);
}

/* "TLS-Required: No" (RFC 8689 3): the sender asks that TLS policies
 * (DANE, MTA-STS, verify) not hold the message up. */
static bool tls_required_no(const char *field, size_t n)
{
	static const char name[] = "TLS-Required:";
	if (n < sizeof name - 1 || strncasecmp(field, name, sizeof name - 1))
		return false;
	size_t i = sizeof name - 1;
	while (i < n && (field[i] == ' ' || field[i] == '\t' || field[i] == '\r' || field[i] == '\n'))
		i++;
	size_t j = n;
	while (j > i && (field[j - 1] == ' ' || field[j - 1] == '\t' || field[j - 1] == '\r' ||
			 field[j - 1] == '\n'))
		j--;
	return j - i == 2 && !strncasecmp(field + i, "No", 2);
}

/* Each header field passes here (an overlong one by its beginning, complete
 * false): forged Authentication-Results are dropped, TLS-Required: No is
 * noted. */
static bool forged(void *arg, const char *field, size_t n, bool complete)
{
	struct session *s = arg;
	if (complete && tls_required_no(field, n))
		s->tx.tls_optional = true;
	return mailauth_is_forged(field, n, s->srv->hostname, complete);
}

static void filtered(void *arg, const char *p, size_t n)
{
	struct session *s = arg;
	if (s->tx.auth)
		mailauth_feed(s->tx.auth, p, n);
	txn_spool(s, p, n);
}

void inbound_body_begin(struct session *s)
{
	hdrfilter_init(&s->tx.hf, filtered, forged, s);
	s->tx.hf_on = true;
}

void inbound_body(struct session *s, const char *p, size_t n)
{
	hdrfilter_feed(&s->tx.hf, p, n);
}

static void end_work(void *arg)
{
	struct check *c = arg;
	c->action = mailauth_finish(c->m, &policy, &c->header, c->reply, sizeof c->reply);
}

/* Hand the evaluation to queued for the aggregate reports (RFC 7489 7.2).
 * Fire and forget: no reply is awaited, so the SMTP reply never waits for it;
 * when queued is unreachable the record is lost and said so. */
static void send_report_record(struct session *s, const struct mailauth *m)
{
	struct dmarc_record r;
	if (!mailauth_report(m, &r))
		return;
	const char *at = s->tx.nrcpt ? strrchr(s->tx.rcpts[0].addr, '@') : NULL;
	snprintf(r.env_to, sizeof r.env_to, "%s", at ? at + 1 : "");
	str_lower(r.env_to);
	if (!dmarc_record_valid(&r)) {
		log_warn("session %llx: DMARC report record for %s not kept (bad field)",
			 (unsigned long long)s->id, r.policy_domain);
		return;
	}
	struct ipc_msg msg;
	ipc_msg_init(&msg, QUEUE_DMARC_RECORD, 0);
	dmarc_record_put(&msg, &r);
	peer_send(s->srv->queue, &msg);
}

static void end_done(void *arg)
{
	struct check *c = arg;
	struct session *s = find_session(c->srv, c->sid);
	if (s) {
		send_report_record(s, c->m);
		free(s->tx.prepend);
		s->tx.prepend = c->header;
		c->header = NULL;
		s->tx.quarantine = c->action == MA_QUARANTINE;
		txn_body_checked(s, c->action == MA_REJECT || c->action == MA_TEMPFAIL ? c->reply : NULL);
	}
	check_free(c);
}

void inbound_end(struct session *s)
{
	if (s->tx.hf_on) {
		hdrfilter_end(&s->tx.hf);
		if (s->tx.hf.dropped)
			log_info("%s: removed %u forged Authentication-Results field(s)", s->tx.qid,
				 s->tx.hf.dropped);
	}
	if (!s->tx.auth) {
		txn_body_checked(s, NULL);
		return;
	}
	struct check *c = xcalloc(1, sizeof *c);
	c->srv = s->srv;
	c->sid = s->id;
	c->m = s->tx.auth;	/* the worker owns it now */
	s->tx.auth = NULL;
	workq_submit(work, end_work, end_done, c);
}

void inbound_free(struct session *s)
{
	mailauth_free(s->tx.auth);
	s->tx.auth = NULL;
	if (s->tx.hf_on)
		hdrfilter_free(&s->tx.hf);
	s->tx.hf_on = false;
	free(s->tx.prepend);
	s->tx.prepend = NULL;
}
