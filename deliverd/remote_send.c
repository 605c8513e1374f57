/* remote_send.c — one SMTP transaction for the recipients of one domain:
 * route, connect (or reuse), STARTTLS per policy, MAIL/RCPT/DATA, and a result
 * per recipient: 2xx delivered, 4xx and connection/TLS/DNS trouble deferred,
 * 5xx bounced with the remote reply. */
#include "deliverd/remote_int.h"
#include "deliverd/sts.h"
#include "common/log.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void set_result(struct rrcpt *r, int result, const char *status, const char *text)
{
	r->result = result;
	r->done = true;
	snprintf(r->status, sizeof r->status, "%s", status);
	snprintf(r->text, sizeof r->text, "%s", text);
}

/* Result for every recipient not yet decided. */
static void set_rest(struct rrcpt **r, size_t n, int result, const char *status, const char *text)
{
	for (size_t i = 0; i < n; i++)
		if (!r[i]->done)
			set_result(r[i], result, status, text);
}

/* Enhanced status from a reply: its own "x.y.z" when given, else a default. */
static void reply_status(const struct smtp_reply *rep, char st[8])
{
	const char *t = rep->text;
	if (t[0] >= '2' && t[0] <= '5' && t[1] == '.' && strspn(t, "0123456789.") >= 5) {
		size_t n = strspn(t, "0123456789.");
		snprintf(st, 8, "%.*s", (int)(n < 7 ? n : 7), t);
	} else {
		snprintf(st, 8, "%c.0.0", rep->code >= 500 ? '5' : rep->code >= 400 ? '4' : '2');
	}
}

static int result_of(int code)
{
	return code >= 200 && code < 300 ? QR_DELIVERED : code >= 500 ? QR_BOUNCE : QR_DEFER;
}

/* The peer's reply as DSN text: "host[addr] said: 550 5.1.1 ..." */
static void peer_said(char *out, size_t len, const struct smtp_client *c, const char *when,
		      const struct smtp_reply *rep)
{
	snprintf(out, len, "host %.150s[%.60s] said: %d %.300s (in reply to %.12s)", c->host, c->addr,
		 rep->code, rep->text, when);
}

/* The TLS policy for one MX host: the level, the TLSA records when DANE
 * applies, and a description for the log and the queue ("dane: ...",
 * "smtp_tls=may"). */
struct host_policy {
	enum tls_level tls;
	struct dane_tlsa *tlsa;	/* TLS_DANE only */
	bool requiretls;	/* RFC 8689: authenticated TLS and REQUIRETLS at the peer */
	const char *auth_user;	/* AUTH PLAIN as this (relay host, site), or NULL */
	const char *auth_pass;
	const char *auth_what;	/* "relay host", "mailbox host": for the reasons */
	SSL_CTX *ctx;		/* NULL: rconf.tls_ctx; the site's own CA for its hosts */
	char desc[400];
	struct rpt_policy rpt;	/* for TLS reports */
};

/* How a message's own TLS request (RFC 8689) bends the policies: REQUIRETLS
 * (only for a non-null sender: bounces are exempt, 4.2.1) or TLS-Required: No. */
enum tls_request { TR_NONE, TR_REQUIRE, TR_OPTIONAL };

static enum tls_request tls_request(const struct rjob *j)
{
	if ((j->flags & QF_REQUIRETLS) && j->sender[0])
		return TR_REQUIRE;
	return (j->flags & QF_TLS_OPTIONAL) ? TR_OPTIONAL : TR_NONE;
}

/* Open a session to addr with the TLS policy; 0 ok, -1 failed (*rep says why,
 * *perm set when the failure is a 5xx from the peer). *rpt: the TLS outcome
 * for TLS reports ("" success, an RFC 8460 result-type), NULL when the
 * session ended before STARTTLS was up to be tried. */
static int open_session(struct smtp_client *c, const struct route_host *h, const char *addr,
			unsigned port, const struct host_policy *pol, struct smtp_reply *rep,
			bool plain_only, bool *policy_failed, const char **rpt)
{
	enum tls_level tls = pol->tls;
	*policy_failed = false;
	*rpt = NULL;
	if (sc_open(c, h->name, addr, port, rconf.connect_timeout, rconf.deadline, rep) < 0)
		return -1;
	if (sc_hello(c, rconf.myname, rep) < 0) {
		sc_close(c, rep->code != 0);
		return -1;
	}
	/* from here on a failure is the peer's TLS, which REQUIRETLS cannot accept */
	*policy_failed = pol->requiretls;
	if (tls == TLS_NONE || plain_only)
		return 0;
	if (!(c->ext & EXT_STARTTLS)) {
		*rpt = "starttls-not-supported";
		if (tls == TLS_MAY)
			return 0;
		rep->code = 0;
		snprintf(rep->text, sizeof rep->text, "TLS is required, but %.200s offered no STARTTLS",
			 h->name);
		sc_close(c, true);
		return -1;
	}
	bool verified;
	if (sc_starttls(c, pol->ctx ? pol->ctx : rconf.tls_ctx, rconf.myname, tls == TLS_DANE ? pol->tlsa : NULL,
			&verified, rep) < 0) {
		*rpt = c->ssl ? "validation-failure" : tls == TLS_DANE ? "tlsa-invalid"
		     : "starttls-not-supported";
		sc_close(c, false);
		return -1;
	}
	*rpt = "";
	if ((tls == TLS_VERIFY || tls == TLS_DANE) && !verified) {
		*rpt = rpt_cert_result(c->verify_err);
		rep->code = 0;
		snprintf(rep->text, sizeof rep->text, tls == TLS_DANE
			 ? "certificate of %.200s matches none of its TLSA records (DANE)"
			 : "certificate of %.200s did not verify", h->name);
		sc_close(c, true);
		return -1;
	}
	if (pol->requiretls && !(c->ext & EXT_REQUIRETLS)) {
		rep->code = 0;
		snprintf(rep->text, sizeof rep->text, "%.200s does not offer REQUIRETLS",
			 h->name);
		sc_close(c, true);
		return -1;
	}
	*policy_failed = false;
	return 0;
}

/* MAIL FROM with the parameters the peer understands. */
static void mail_cmd(char *buf, size_t len, const struct rjob *j, const struct smtp_client *c,
		     size_t size)
{
	int n = snprintf(buf, len, "MAIL FROM:<%s>", j->sender);
	if (c->ext & EXT_SIZE)
		n += snprintf(buf + n, len - (size_t)n, " SIZE=%zu", size);
	if ((j->flags & QF_8BITMIME) && (c->ext & EXT_8BITMIME))
		n += snprintf(buf + n, len - (size_t)n, " BODY=8BITMIME");
	if ((j->flags & QF_SMTPUTF8) && (c->ext & EXT_SMTPUTF8))
		n += snprintf(buf + n, len - (size_t)n, " SMTPUTF8");
	if ((j->flags & QF_REQUIRETLS) && (c->ext & EXT_REQUIRETLS))
		n += snprintf(buf + n, len - (size_t)n, " REQUIRETLS");
	if (c->ext & EXT_DSN) {
		if (j->ret)
			n += snprintf(buf + n, len - (size_t)n, " RET=%s", j->ret == 1 ? "FULL" : "HDRS");
		if (j->envid[0])
			snprintf(buf + n, len - (size_t)n, " ENVID=%s", j->envid);
	}
}

/* RCPT TO with DSN parameters when the peer supports DSN. */
static void rcpt_cmd(char *buf, size_t len, const struct rjob *j, const struct smtp_client *c,
		     const struct rrcpt *r)
{
	int n = snprintf(buf, len, "RCPT TO:<%s>", r->addr);
	if (!(c->ext & EXT_DSN))
		return;
	if (r->notify & DSN_NOTIFY_NEVER) {
		n += snprintf(buf + n, len - (size_t)n, " NOTIFY=NEVER");
	} else if (r->notify) {
		const char *sep = " NOTIFY=";
		static const struct { unsigned bit; const char *word; } w[] = {
			{ DSN_NOTIFY_SUCCESS, "SUCCESS" }, { DSN_NOTIFY_FAILURE, "FAILURE" },
			{ DSN_NOTIFY_DELAY, "DELAY" } };
		for (size_t i = 0; i < ARRAY_LEN(w); i++) {
			if (r->notify & w[i].bit) {
				n += snprintf(buf + n, len - (size_t)n, "%s%s", sep, w[i].word);
				sep = ",";
			}
		}
	}
	if (r->orcpt && *r->orcpt)
		snprintf(buf + n, len - (size_t)n, " ORCPT=%s", r->orcpt);
}

/* The bytes to send: DKIM header + message, 8-bit parts downgraded if needed. */
static int body_for(struct rjob *j, const struct smtp_client *c, char **buf, size_t *len)
{
	const char *msg = j->msg;
	size_t mlen = j->size;
	if ((j->flags & QF_8BITMIME) && !(c->ext & EXT_8BITMIME)) {
		if (!j->alt_body)
			j->alt_body = downgrade_8bit(j->msg, j->size, &j->alt_len);
		msg = j->alt_body;
		mlen = j->alt_len;
	}
	size_t hl = j->dkim_header && !j->site_hop ? strlen(j->dkim_header) : 0;
	size_t pl = j->prepend ? strlen(j->prepend) : 0;
	*buf = xmalloc(hl + pl + mlen + 1);
	if (hl)
		memcpy(*buf, j->dkim_header, hl);
	if (pl)
		memcpy(*buf + hl, j->prepend, pl);
	memcpy(*buf + hl + pl, msg, mlen);
	*len = hl + pl + mlen;
	return 0;
}

/* One transaction on an open session. Returns true if the session is still
 * good for another message. */
static bool transaction(struct rjob *j, struct smtp_client *c, struct rrcpt **r, size_t n)
{
	struct smtp_reply rep;
	char cmd[2 * QUEUE_MAX_FIELD + 200], st[8], text[600];
	char *body;
	size_t blen;

	sc_deadline(c, rconf.deadline);	/* this message's own deadline */
	if ((j->flags & QF_SMTPUTF8) && !(c->ext & EXT_SMTPUTF8)) {
		snprintf(text, sizeof text, "host %.200s does not support SMTPUTF8, needed for this "
			 "message (RFC 6531)", c->host);
		set_rest(r, n, QR_BOUNCE, "5.6.7", text);
		return true;
	}
	body_for(j, c, &body, &blen);
	if ((c->ext & EXT_SIZE) && c->max_size && blen > c->max_size) {
		snprintf(text, sizeof text, "message size %zu exceeds the limit %llu of %.200s", blen,
			 (unsigned long long)c->max_size, c->host);
		set_rest(r, n, QR_BOUNCE, "5.3.4", text);
		free(body);
		return true;
	}
	/* With PIPELINING, MAIL, every RCPT and DATA go out in one write and the
	 * replies are read in order (RFC 2920); without it, one by one. */
	bool pipe = (c->ext & EXT_PIPELINING) != 0;
	mail_cmd(cmd, sizeof cmd, j, c, blen);
	sc_queue(c, cmd);
	for (size_t i = 0; pipe && i < n; i++) {
		rcpt_cmd(cmd, sizeof cmd, j, c, r[i]);
		sc_queue(c, cmd);
	}
	if (pipe)
		sc_queue(c, "DATA");
	if (sc_flush(c, 300, &rep) < 0 || sc_reply(c, 300, &rep) < 0 || rep.code != 250) {
		reply_status(&rep, st);
		peer_said(text, sizeof text, c, "MAIL FROM", &rep);
		set_rest(r, n, rep.code ? result_of(rep.code) : QR_DEFER, rep.code ? st : "4.4.2",
			 rep.code ? text : rep.text);
		free(body);
		if (pipe && rep.code)	/* drain the RCPT and DATA replies */
			for (size_t i = 0; i <= n && sc_reply(c, 300, &rep) == 0; i++)
				;
		return false;
	}
	size_t accepted = 0;
	for (size_t i = 0; i < n; i++) {
		if (!pipe) {
			rcpt_cmd(cmd, sizeof cmd, j, c, r[i]);
			sc_queue(c, cmd);
			if (sc_flush(c, 300, &rep) < 0) {
				set_rest(r, n, QR_DEFER, "4.4.2", rep.text);
				free(body);
				return false;
			}
		}
		if (sc_reply(c, 300, &rep) < 0) {
			set_rest(r, n, QR_DEFER, "4.4.2", rep.text);
			free(body);
			return false;
		}
		if (rep.code == 250 || rep.code == 251) {
			accepted++;
			continue;
		}
		reply_status(&rep, st);
		peer_said(text, sizeof text, c, "RCPT TO", &rep);
		set_result(r[i], result_of(rep.code), st, text);
	}
	if (pipe) {
		/* The DATA reply: 354 only when some recipient was accepted. */
		if (sc_reply(c, 120, &rep) < 0) {
			set_rest(r, n, QR_DEFER, "4.4.2", rep.text);
			free(body);
			return false;
		}
		if (!accepted) {
			free(body);
			if (rep.code == 354)	/* nothing to send: end the empty transaction */
				return sc_data(c, "", 0, &rep) == 0 &&
				       sc_command(c, "RSET", 120, &rep) == 0;
			return sc_command(c, "RSET", 120, &rep) == 0 && rep.code == 250;
		}
	}
	if (!accepted) {
		free(body);
		return sc_command(c, "RSET", 120, &rep) == 0 && rep.code == 250;
	}
	if ((!pipe && sc_command(c, "DATA", 120, &rep) < 0) || rep.code != 354) {
		reply_status(&rep, st);
		peer_said(text, sizeof text, c, "DATA", &rep);
		set_rest(r, n, rep.code ? result_of(rep.code) : QR_DEFER, rep.code ? st : "4.4.2",
			 rep.code ? text : rep.text);
		free(body);
		return rep.code != 0 && sc_command(c, "RSET", 120, &rep) == 0;
	}
	int rc = sc_data(c, body, blen, &rep);
	free(body);
	if (rc < 0) {
		set_rest(r, n, QR_DEFER, "4.4.2", rep.text);
		return false;
	}
	reply_status(&rep, st);
	peer_said(text, sizeof text, c, "end of DATA", &rep);
	set_rest(r, n, result_of(rep.code), st, text);
	return rep.code == 250;
}

static void log_results(const struct rjob *j, struct rrcpt **r, size_t n,
			const struct smtp_client *c, unsigned port, const char *policy)
{
	for (size_t i = 0; i < n; i++)
		log_info("%s: to=<%s>, relay=%s[%s]:%u, tls=%s%s%s, tls_policy=%s, status=%s (%s)",
			 j->id, r[i]->addr, c ? c->host : "none", c ? c->addr : "", port,
			 c && c->tls[0] ? c->tls : "none", c && c->dane[0] ? ", dane_match=" : "",
			 c && c->dane[0] ? c->dane : "", policy,
			 r[i]->result == QR_DELIVERED ? "sent" : r[i]->result == QR_BOUNCE ? "bounced"
			 : "deferred", r[i]->text);
}

/* AUTH at the relay host or a mailbox host of the site: only inside TLS
 * (credentials never travel in clear) and only with a mechanism it offers. */
static bool relay_login(struct smtp_client *c, const struct host_policy *pol,
			struct smtp_reply *r)
{
	if (!c->ssl) {
		r->code = 0;
		snprintf(r->text, sizeof r->text, "%s %.200s: no TLS, so no AUTH%s", pol->auth_what,
			 c->host, rconf.relayhost[0] ? " (set smtp_tls = encrypt for it)" : "");
		return false;
	}
	if (!(c->ext & EXT_AUTH_PLAIN)) {
		r->code = 0;
		snprintf(r->text, sizeof r->text, "%s %.200s offers no AUTH PLAIN", pol->auth_what,
			 c->host);
		return false;
	}
	if (sc_auth(c, pol->auth_user, pol->auth_pass, r) < 0) {
		if (!r->code)
			return false;
		char said[sizeof r->text];
		snprintf(said, sizeof said, "%s", r->text);
		snprintf(r->text, sizeof r->text, "authentication at %s %.150s failed: %d %.300s",
			 pol->auth_what, c->host, r->code, said);
		r->code = r->code >= 500 ? 450 : r->code;	/* our configuration: retry, don't bounce */
		return false;
	}
	return true;
}

/* The policy of one host: DANE when the domain's MX is signed and the host
 * publishes TLSA records, else the configured level; REQUIRETLS turns
 * anything short of DANE into a verified certificate. DANE_DEFER: skip the
 * host (never fall back to clear text); pol->desc says why. */
static enum dane_verdict host_policy(const struct route_host *h, unsigned port, bool dane_domain,
				     const char *domain_why, enum tls_level tls,
				     enum tls_request req, const struct sts_policy *sts,
				     struct host_policy *pol)
{
	char why[320];
	snprintf(why, sizeof why, "%s", domain_why);
	*pol = (struct host_policy){ .tls = tls, .requiretls = req == TR_REQUIRE };
	if (rconf.relayhost[0] && rconf.relay_user[0])
		*pol = (struct host_policy){ .tls = tls, .requiretls = req == TR_REQUIRE,
			.auth_user = rconf.relay_user, .auth_pass = rconf.relay_pass,
			.auth_what = "relay host" };
	enum dane_verdict v = DANE_NONE;
	if (dane_domain) {
		pol->tlsa = xmalloc(sizeof *pol->tlsa);
		v = dane_host(h->name, port, pol->tlsa, why, sizeof why);
	}
	if (v == DANE_VERIFY)
		pol->tls = TLS_DANE;
	else if (v == DANE_ENCRYPT && tls < TLS_ENCRYPT)
		pol->tls = TLS_ENCRYPT;
	/* MTA-STS enforce (RFC 8461 4.2): a verified certificate for the MX name */
	if (v == DANE_NONE && sts->mode == STS_ENFORCE && pol->tls < TLS_VERIFY)
		pol->tls = TLS_VERIFY;
	if (req == TR_REQUIRE && pol->tls != TLS_DANE)
		pol->tls = TLS_VERIFY;	/* RFC 8689 4.2.1: RFC 6125 checks of the MX name */
	static const char *names[] = { "none", "may", "encrypt", "verify", "dane" };
	const char *rt = req == TR_REQUIRE ? "requiretls; " : "";
	if (v != DANE_NONE)
		snprintf(pol->desc, sizeof pol->desc, "%sdane: %s", rt, why);
	else if (sts->mode != STS_NONE)
		snprintf(pol->desc, sizeof pol->desc, "%smta-sts: %s (id %s), smtp_tls=%s", rt,
			 sts_mode_name(sts->mode), sts->id, names[pol->tls]);
	else
		snprintf(pol->desc, sizeof pol->desc, "%ssmtp_tls=%s; dane: %s; mta-sts: none", rt,
			 names[pol->tls], why);
	return v;
}

static void host_policy_free(struct host_policy *pol)
{
	free(pol->tlsa);
	pol->tlsa = NULL;
}

/* Try the addresses of one host; true when every recipient has a result.
 * *policy_failed: the last failure was the peer's TLS short of what
 * REQUIRETLS needs (not a network trouble that may pass). */
static bool try_host(struct rjob *j, struct rrcpt **r, size_t n, const struct route *rt,
		     const struct route_host *host, const struct host_policy *pol,
		     struct smtp_reply *last, bool *policy_failed)
{
	for (size_t a = 0; a < host->naddrs; a++) {
		const char *addr = host->addrs[a];
		char key[420];
		struct smtp_client c;
		snprintf(key, sizeof key, "%s/%s:%u:%d%s", host->name, addr, rt->port, (int)pol->tls,
			 pol->requiretls ? "R" : "");
		bool ok = pool_take(key, &c);
		if (ok && c.tls[0])	/* a TLS session reused for this domain counts for it too */
			rpt_note(j, &pol->rpt, host->name, addr, c.local, "", NULL);
		if (!ok) {
			const char *rpt;
			ok = open_session(&c, host, addr, rt->port, pol, last, false,
					  policy_failed, &rpt) == 0;
			if (rpt)
				rpt_note(j, &pol->rpt, host->name, addr, c.local, rpt,
					 *rpt ? last->text : NULL);
			/* "may": a failed handshake falls back to plain text (RFC 3207). */
			if (!ok && pol->tls == TLS_MAY && last->code == 0 && strstr(last->text, "TLS"))
				ok = open_session(&c, host, addr, rt->port, pol, last, true,
						  policy_failed, &rpt) == 0;
		}
		if (!ok) {
			log_info("%s: %s[%s]:%u: %s%s (tls_policy=%s)", j->id, host->name, addr,
				 rt->port, last->code ? "refused: " : "", last->text, pol->desc);
			continue;
		}
		*policy_failed = false;
		if (pol->auth_user && !relay_login(&c, pol, last)) {
			sc_close(&c, true);
			continue;
		}
		bool reusable = transaction(j, &c, r, n);
		log_results(j, r, n, &c, rt->port, pol->desc);
		if (reusable)
			pool_put(key, &c);
		else
			sc_close(&c, true);
		bool all_done = true;
		for (size_t i = 0; i < n; i++)
			all_done &= r[i]->done;
		if (all_done)
			return true;
	}
	return false;
}

/* Try every address of every host until one session completes the transaction. */
static void try_hosts(struct rjob *j, struct rrcpt **r, size_t n, const struct route *rt,
		      enum tls_level tls, bool dane_domain, const char *domain_policy,
		      const struct sts_policy *sts)
{
	struct smtp_reply last = { 0, "no mail host could be reached" };
	enum tls_request req = tls_request(j);
	bool all_policy = req == TR_REQUIRE;	/* every host failed REQUIRETLS itself */
	for (size_t h = 0; h < rt->nhosts; h++) {
		/* MTA-STS (RFC 8461 4.1): in enforce mode, and for REQUIRETLS, only
		 * the MX hosts the policy names */
		if (!dane_domain && sts->mode != STS_NONE && !sts_mx_match(sts, rt->hosts[h].name) &&
		    (sts->mode == STS_ENFORCE || req == TR_REQUIRE)) {
			last.code = 0;
			snprintf(last.text, sizeof last.text, "MX host %.200s is not named by the "
				 "MTA-STS policy (%s, id %s)", rt->hosts[h].name,
				 sts_mode_name(sts->mode), sts->id);
			log_info("%s: %s", j->id, last.text);
			struct rpt_policy rp = { r[0]->domain, TLSRPT_STS, sts, NULL, NULL };
			rpt_note(j, &rp, rt->hosts[h].name, NULL, NULL, "validation-failure", last.text);
			continue;
		}
		bool mismatch = !dane_domain && sts->mode == STS_TESTING &&
				!sts_mx_match(sts, rt->hosts[h].name);
		if (mismatch)
			log_info("%s: mta-sts testing: MX host %s is not named by the policy of id %s "
				 "(delivered anyway)", j->id, rt->hosts[h].name, sts->id);
		struct host_policy pol;
		enum dane_verdict v = host_policy(&rt->hosts[h], rt->port, dane_domain,
						  domain_policy, tls, req, sts, &pol);
		pol.rpt = (struct rpt_policy){ r[0]->domain,
			v != DANE_NONE ? TLSRPT_TLSA : sts->mode != STS_NONE ? TLSRPT_STS : TLSRPT_NONE,
			sts, pol.tlsa, mismatch ? "MX host not named by the MTA-STS policy" : NULL };
		bool done = false, policy_failed = false;
		if (v == DANE_DEFER) {
			last.code = 0;
			snprintf(last.text, sizeof last.text, "%.300s (tls_policy=%.150s)", pol.desc,
				 domain_policy);
			log_info("%s: %s: %s", j->id, rt->hosts[h].name, last.text);
			rpt_note(j, &pol.rpt, rt->hosts[h].name, NULL, NULL, "dnssec-invalid", last.text);
		} else {
			done = try_host(j, r, n, rt, &rt->hosts[h], &pol, &last, &policy_failed);
		}
		all_policy &= policy_failed;
		host_policy_free(&pol);
		if (done)
			return;
	}
	char st[8];
	if (last.code)
		reply_status(&last, st);
	if (all_policy) {
		/* RFC 8689 5: no host could take it as REQUIRETLS demands: return it */
		char text[sizeof last.text + 40];
		snprintf(text, sizeof text, "REQUIRETLS: %s", last.text);
		set_rest(r, n, QR_BOUNCE, "5.7.30", text);
	} else {
		/* All hosts failed: a permanent refusal bounces, anything else waits. */
		set_rest(r, n, last.code >= 500 ? QR_BOUNCE : QR_DEFER, last.code ? st : "4.4.1",
			 last.text);
	}
	log_results(j, r, n, NULL, rt->port, domain_policy);
}

/* DANE for MX delivery, not through a configured relay host nor for a
 * message that asks to go without TLS policies (TLS-Required: No). */
static enum dane_verdict domain_dane(const struct rjob *j, const char *domain, bool routed,
				     char *why, size_t whylen)
{
	if (rconf.relayhost[0]) {
		snprintf(why, whylen, "relay host");
		return DANE_NONE;
	}
	if (tls_request(j) == TR_OPTIONAL) {
		snprintf(why, whylen, "TLS-Required: No");
		return DANE_NONE;
	}
	return routed ? dane_domain(domain, why, whylen) : DANE_NONE;
}

void remote_deliver_domain(struct rjob *j, struct rrcpt **r, size_t n, const char *domain)
{
	struct route rt;
	char st[8], why[300];
	struct route_conf rc = { rconf.relayhost, rconf.port, rconf.myname };
	dest_acquire(domain);
	enum route_status rs = route_lookup(&rc, domain, &rt, st, why, sizeof why);
	char dwhy[300] = "";
	enum dane_verdict dv = domain_dane(j, domain, rs == ROUTE_OK, dwhy, sizeof dwhy);
	enum tls_request req = tls_request(j);
	/* MTA-STS for destinations without DANE (RFC 8461 2) */
	struct sts_policy sts = { 0 };
	if (rs == ROUTE_OK && dv == DANE_NONE && !rconf.relayhost[0] && req != TR_OPTIONAL)
		sts_lookup(domain, &sts);
	if (rs != ROUTE_OK) {
		set_rest(r, n, rs == ROUTE_BOUNCE ? QR_BOUNCE : QR_DEFER, st, why);
		log_results(j, r, n, NULL, rc.port, "none");
	} else if (dv == DANE_DEFER) {
		snprintf(why, sizeof why, "dane: %s", dwhy);
		set_rest(r, n, QR_DEFER, "4.7.5", why);
		log_results(j, r, n, NULL, rc.port, why);
	} else if (req == TR_REQUIRE && dv != DANE_VERIFY && sts.mode == STS_NONE &&
		   !rconf.relayhost[0]) {
		/* RFC 8689 4.2.1: the MX must come from DNSSEC or an MTA-STS policy */
		snprintf(why, sizeof why, "REQUIRETLS: the MX of %.120s cannot be authenticated "
			 "(%.120s)", domain, dwhy);
		set_rest(r, n, QR_BOUNCE, "5.7.30", why);
		log_results(j, r, n, NULL, rc.port, why);
	} else {
		char pol[320];
		if (dv == DANE_VERIFY)
			snprintf(pol, sizeof pol, "dane");
		else if (sts.mode != STS_NONE)
			snprintf(pol, sizeof pol, "mta-sts: %s (id %s)", sts_mode_name(sts.mode), sts.id);
		else
			snprintf(pol, sizeof pol, "%s", dwhy);
		enum tls_level tls = req == TR_OPTIONAL ? TLS_MAY : tls_level_for(domain);
		try_hosts(j, r, n, &rt, tls, dv == DANE_VERIFY, pol, &sts);
	}
	dest_release(domain);
}

/* Where the site's mailbox host named host listens, as the one host of rt. */
static bool site_route(const char *host, struct route *rt)
{
	const struct site_host *h = site_find(&rconf.site, host);
	if (!h)
		return false;
	memset(rt, 0, sizeof *rt);
	rt->port = h->port;
	rt->nhosts = 1;
	snprintf(rt->hosts[0].name, sizeof rt->hosts[0].name, "%s", h->name);
	snprintf(rt->hosts[0].addrs[0], sizeof rt->hosts[0].addrs[0], "%s", h->addr);
	rt->hosts[0].naddrs = 1;
	return true;
}

/* The site's own recipients go to their mailbox host's internal port as
 * mailbox_hosts names it: no MX, MTA-STS or DANE (the site is not the
 * recipient's domain in DNS). With site_tls = verify: STARTTLS required and
 * the certificate checked against site_ca_file alone, for the host's name in
 * mailbox_hosts; else TLS when the host offers it. AUTH with the site secret
 * when there is one, only inside TLS. A message that asked for REQUIRETLS
 * (RFC 8689) crosses only a verified hop, to a host that takes REQUIRETLS on;
 * with site_tls = none it waits (the site's configuration can change, the
 * sender's request cannot). Anything short of a per-recipient reply keeps
 * them queued: the host may be down or restarting, and mail for our own users
 * is never returned for it. */
void remote_deliver_site(struct rjob *j, struct rrcpt **r, size_t n, const char *host)
{
	struct route rt;
	struct smtp_reply last = { 0, "the mailbox host could not be reached" };
	bool verify = rconf.site_tls_ctx != NULL;
	struct host_policy pol = { .tls = verify ? TLS_VERIFY : TLS_MAY,
				   .ctx = rconf.site_tls_ctx, .auth_what = "mailbox host",
				   .requiretls = tls_request(j) == TR_REQUIRE };
	if (rconf.site_secret[0]) {
		pol.auth_user = "site";
		pol.auth_pass = rconf.site_secret;
	}
	snprintf(pol.desc, sizeof pol.desc, "%ssite: mailbox host %.200s, site_tls=%s",
		 pol.requiretls ? "requiretls; " : "", host, verify ? "verify" : "none");
	if (!strcmp(host, SITE_HOLD_HOST)) {
		snprintf(last.text, sizeof last.text, "the recipient's mailbox is being moved to "
			 "another host (mailctl user move): kept until the move ends");
		set_rest(r, n, QR_DEFER, "4.2.0", last.text);
		log_results(j, r, n, NULL, 0, pol.desc);
		return;
	}
	if (!site_route(host, &rt)) {
		snprintf(last.text, sizeof last.text, "mailbox host %.200s is not in mailbox_hosts "
			 "(tern.conf) of this host", host);
		set_rest(r, n, QR_DEFER, "4.3.5", last.text);
		log_results(j, r, n, NULL, 0, pol.desc);
		return;
	}
	if (pol.requiretls && !verify) {
		snprintf(last.text, sizeof last.text, "REQUIRETLS: the hop to mailbox host %.200s "
			 "is not verified TLS (site_tls = none in tern.conf); held", host);
		set_rest(r, n, QR_DEFER, "4.7.30", last.text);
		log_results(j, r, n, NULL, rt.port, pol.desc);
		return;
	}
	char key[USERDB_MAX_HOST + 8];
	snprintf(key, sizeof key, "site:%s", host);
	dest_acquire(key);
	j->site_hop = true;
	bool policy_failed;
	if (!try_host(j, r, n, &rt, &rt.hosts[0], &pol, &last, &policy_failed)) {
		char st[8] = "4.4.1";
		if (last.code >= 400 && last.code < 500)
			reply_status(&last, st);
		set_rest(r, n, QR_DEFER, st, last.text);
		log_results(j, r, n, NULL, rt.port, pol.desc);
	}
	j->site_hop = false;
	dest_release(key);
}
