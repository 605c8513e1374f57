/* remote.c — the remote delivery agent: jobs from queued, grouped by recipient
 * domain, each group delivered on a worker thread (remote_send.c); one result
 * per recipient goes back to queued. */
#include "deliverd/remote.h"
#include "deliverd/agent.h"
#include "deliverd/remote_int.h"
#include "common/dns.h"
#include "common/dnssec.h"
#include "common/log.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/tls.h"
#include "common/util.h"
#include "common/workq.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

struct rconf rconf;
static struct agent *agent;
static struct workq *work;

static enum tls_level parse_level(const char *s)
{
	return !strcmp(s, "none") ? TLS_NONE : !strcmp(s, "encrypt") ? TLS_ENCRYPT
	     : !strcmp(s, "verify") ? TLS_VERIFY : TLS_MAY;
}

enum tls_level tls_level_for(const char *domain)
{
	size_t dl = strlen(domain);
	for (size_t i = 0; i < rconf.ntls_policy; i++) {
		const char *p = rconf.tls_policy[i];
		if (!strncasecmp(p, domain, dl) && p[dl] == '=')
			return parse_level(p + dl + 1);
	}
	return rconf.tls;
}

static char *read_secret(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[512] = "";
	if (!f)
		return xstrdup("");
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	char *s = xstrdup(line);
	explicit_bzero(line, sizeof line);
	return s;
}

void remote_load(const struct instance *in, const struct cfg *conf)
{
	char why[256];
	rconf.myname = xstrdup(in->hostname);
	rconf.relayhost = xstrdup(cfg_str(conf, "relayhost"));
	rconf.relay_user = xstrdup(cfg_str(conf, "relayhost_user"));
	char *pf = cfg_path(conf, "relayhost_password_file");
	rconf.relay_pass = rconf.relay_user[0] ? read_secret(pf) : xstrdup("");
	free(pf);
	rconf.port = (unsigned)cfg_int(conf, "smtp_port");
	rconf.tls = parse_level(cfg_str(conf, "smtp_tls"));
	rconf.ntls_policy = cfg_list(conf, "smtp_tls_policy", &rconf.tls_policy);
	rconf.dest_concurrency = (unsigned)cfg_int(conf, "smtp_destination_concurrency");
	rconf.reuse_time = (int)cfg_int(conf, "smtp_connection_reuse_time");
	rconf.connect_timeout = (int)cfg_int(conf, "smtp_connect_timeout");
	rconf.deadline = (int)cfg_int(conf, "smtp_deadline");
	rconf.dkim_sign = cfg_bool(conf, "dkim_sign");
	if (site_load(in, &rconf.site, why, sizeof why) < 0)
		fatal("%s", why);
	rconf.site_secret = site_secret_load(in, why, sizeof why);
	if (!rconf.site_secret)
		fatal("%s", why);
	/* Load CAs eagerly: the agent runs chrooted afterwards. */
	char *ca = cfg_path(conf, "smtp_tls_ca_file");
	rconf.tls_ctx = tls_client_ctx(ca, 0, why, sizeof why);
	if (!rconf.tls_ctx)
		fatal("TLS client context: %s", why);
	free(ca);
	if (rconf.site.tls_verify && rconf.site.nhosts) {
		rconf.site_tls_ctx = tls_client_ctx(rconf.site.ca_file, 1, why, sizeof why);
		if (!rconf.site_tls_ctx)
			fatal("site_ca_file: %s", why);
	}
	if (dns_init(cfg_str(&in->conf, "dns_server"), 5) < 0)
		fatal("bad dns_server \"%s\" in tern.conf", cfg_str(&in->conf, "dns_server"));
	/* DANE: validated lookups (the trust anchors are read now, before chroot) */
	char *ta = cfg_bool(conf, "smtp_dane") ? cfg_path(conf, "dnssec_trust_anchor") : xstrdup("");
	if (dnssec_init(cfg_str(&in->conf, "dns_server"), ta, why, sizeof why) < 0)
		fatal("DANE: %s (set smtp_dane = no in deliverd.conf to go without)", why);
	free(ta);
	if (SSL_CTX_dane_enable(rconf.tls_ctx) <= 0)
		fatal("TLS client context: OpenSSL refuses DANE");
	if (rconf.dkim_sign) {
		char **sel;
		size_t nsel = cfg_list(conf, "dkim_selectors", &sel);
		char *dir = xasprintf("%s/dkim", in->dir);
		keys_load(dir, sel, nsel);
		free(dir);
		cfg_list_free(sel, nsel);
	}
}

/* Domain of the first From: header field, for choosing the DKIM key. */
static void from_domain(const char *msg, size_t len, char *out, size_t outlen)
{
	out[0] = '\0';
	for (size_t i = 0; i + 5 < len; ) {
		if (msg[i] == '\r' && msg[i + 1] == '\n')
			return;	/* end of header */
		const char *eol = memchr(msg + i, '\n', len - i);
		size_t end = eol ? (size_t)(eol - msg) : len;
		if (!strncasecmp(msg + i, "From:", 5)) {
			const char *at = NULL;
			for (size_t k = i + 5; k < end; k++)
				if (msg[k] == '@')
					at = msg + k;
			if (at) {
				size_t n = strcspn(at + 1, "> \t\r\n;,");
				if (n >= outlen)
					n = outlen - 1;
				memcpy(out, at + 1, n);
				out[n] = '\0';
			}
			return;
		}
		i = end + 1;
	}
}

static void sign(struct rjob *j)
{
	char dom[256], why[256], *sig;
	const struct dkim_key *k = NULL;
	from_domain(j->msg, j->size, dom, sizeof dom);
	if (dom[0])
		k = keys_find(dom);
	const char *at = strrchr(j->sender, '@');
	if (!k && at)
		k = keys_find(at + 1);
	if (!k)
		return;
	if (dkim_sign_msg(k, j->msg, j->size, NULL, &sig, why, sizeof why) < 0) {
		log_warn("%s: dkim: %s", j->id, why);
		return;
	}
	j->dkim_header = xasprintf("%s\r\n", sig);
	free(sig);
	log_info("%s: dkim: signed d=%s s=%s", j->id, k->domain, k->selector);
}

/* One session takes both: the same mailbox host of the site, or (by MX)
 * the same domain. */
static bool same_destination(const struct rrcpt *a, const struct rrcpt *b)
{
	if (a->hop[0] || b->hop[0])
		return !strcasecmp(a->hop, b->hop);
	return !strcasecmp(a->domain, b->domain);
}

/* Does some recipient leave the site? Mail relayed to our own mailbox hosts
 * is not signed: it is not leaving, and may be mail from outside. */
static bool leaves_site(const struct rjob *j)
{
	for (uint32_t i = 0; i < j->n; i++)
		if (!j->r[i].done && !j->r[i].hop[0])
			return true;
	return false;
}

static void job_work(void *arg)
{
	struct rjob *j = arg;
	void *map = j->size ? mmap(NULL, j->size, PROT_READ, MAP_PRIVATE, j->fd, 0) : MAP_FAILED;
	if (map == MAP_FAILED) {
		for (uint32_t i = 0; i < j->n; i++) {
			j->r[i].result = QR_DEFER;
			snprintf(j->r[i].status, sizeof j->r[i].status, "4.3.0");
			snprintf(j->r[i].text, sizeof j->r[i].text, "cannot read the queued message");
		}
		return;
	}
	j->msg = map;
	if (rconf.dkim_sign && leaves_site(j))
		sign(j);
	struct rrcpt **group = xcalloc(j->n, sizeof *group);
	for (uint32_t i = 0; i < j->n; i++) {
		if (j->r[i].done)
			continue;
		size_t g = 0;
		for (uint32_t k = i; k < j->n; k++)
			if (!j->r[k].done && same_destination(&j->r[k], &j->r[i]))
				group[g++] = &j->r[k];
		if (j->r[i].hop[0])
			remote_deliver_site(j, group, g, j->r[i].hop);
		else
			remote_deliver_domain(j, group, g, j->r[i].domain);
	}
	free(group);
	munmap(map, j->size);
	j->msg = NULL;
}

static void free_job(struct rjob *j)
{
	for (uint32_t i = 0; i < j->n; i++) {
		free(j->r[i].addr);
		free(j->r[i].orcpt);
		free(j->r[i].domain);
		free(j->r[i].hop);
	}
	free(j->r);
	free(j->sender);
	free(j->envid);
	free(j->prepend);
	free(j->dkim_header);
	free(j->alt_body);
	free(j->rpt);
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

static void job_done(void *arg)
{
	struct rjob *j = arg;
	struct ipc_msg m;
	rpt_send(j, agent);
	agent_result_begin(&m, j->id, j->n);
	for (uint32_t i = 0; i < j->n; i++)
		agent_result_add(&m, j->r[i].idx, j->r[i].result, j->r[i].status, j->r[i].text);
	agent_reply(agent, j->gen, &m);
	free_job(j);
}

/* A recipient of the job; one without a domain is refused right away. */
static void take_rcpt(struct rrcpt *r, const struct queue_job_rcpt *q)
{
	r->idx = q->idx;
	r->addr = xstrdup(q->addr);
	r->orcpt = xstrdup(q->orcpt);
	r->notify = q->notify;
	r->hop = xstrdup(q->hop);
	const char *at = strrchr(r->addr, '@');
	r->domain = xstrdup(at ? at + 1 : "");
	str_lower(r->domain);
	if (!at || !at[1]) {
		r->done = true;
		r->result = QR_BOUNCE;
		snprintf(r->status, sizeof r->status, "5.1.3");
		snprintf(r->text, sizeof r->text, "bad recipient address syntax");
	}
}

static bool on_job(struct ipc_msg *m, uint64_t gen, void *arg)
{
	struct queue_job q;
	if (!queue_job_get(m, &q))
		return false;
	struct rjob *j = xcalloc(1, sizeof *j);
	j->gen = gen;
	j->fd = q.fd;
	strlcpy_t(j->id, q.qid, sizeof j->id);
	j->sender = xstrdup(q.sender);
	j->flags = q.flags;
	j->size = q.size;
	j->envid = xstrdup(q.envid);
	j->ret = q.ret;
	j->prepend = xstrdup(q.prepend);
	j->r = xcalloc(q.nrcpt, sizeof *j->r);
	for (uint32_t k = 0; k < q.nrcpt; k++)
		take_rcpt(&j->r[j->n++], &q.rcpt[k]);
	queue_job_done(&q);
	workq_submit(work, job_work, job_done, j);
	return true;
}

static void expire_work(void *arg)
{
	pool_expire();
}

static void expire_done(void *arg)
{
}

static void on_expire_timer(evutil_socket_t fd, short what, void *arg)
{
	workq_submit(work, expire_work, expire_done, NULL);
}

struct agent *remote_run(const struct instance *in, const struct cfg *conf,
			 struct event_base *base, const char *queue_sock)
{
	work = workq_new(base, (int)cfg_int(conf, "remote_workers"));
	agent = agent_new(base, queue_sock, QT_REMOTE, "remote", on_job, NULL);
	struct event *ev = event_new(base, -1, EV_PERSIST, on_expire_timer, NULL);
	struct timeval tv = { rconf.reuse_time, 0 };
	event_add(ev, &tv);
	return agent;
}
