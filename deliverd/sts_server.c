/* sts_server.c — the MTA-STS fetcher role (`tern-deliverd --sts`, see sts.h):
 * answers the remote agent's policy queries from a cache, fetching over
 * HTTPS when the domain's TXT record names a policy it does not hold. One
 * thread per agent connection (the agent has one per delivery worker). */
#include "deliverd/sts.h"
#include "common/listener.h"
#include "common/daemon.h"
#include "common/dns.h"
#include "common/https.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "common/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STS_CACHE_MAX	4096
#define STS_CONNS_MAX	64
#define STS_FETCH_TIMEOUT 20	/* seconds for the whole HTTPS fetch */

struct cached {
	char domain[256];
	struct sts_policy p;
	time_t expires;		/* fetched + max_age */
};

static struct {
	char *ca;
	size_t calen;
	unsigned port;
	uid_t client_uid;
	struct cached *cache;
	size_t ncache;
	pthread_mutex_t lock;
	int conns;
	volatile sig_atomic_t stop;
} S = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The id of the one valid v=STSv1 record at _mta-sts.DOMAIN (3.1), else false. */
static bool txt_id(const char *domain, char id[STS_ID_MAX + 1])
{
	char **txt, name[300];
	size_t n, valid = 0;
	snprintf(name, sizeof name, "_mta-sts.%s", domain);
	if (dns_txt(name, &txt, &n) != DNS_OK)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(txt[i], "v=STSv1", 7))
			valid += sts_txt_parse(txt[i], id) ? 1 : 2;	/* a bad one spoils it */
	dns_txt_free(txt, n);
	return valid == 1;
}

static struct cached *cache_find(const char *domain)
{
	for (size_t i = 0; i < S.ncache; i++)
		if (!strcmp(S.cache[i].domain, domain))
			return &S.cache[i];
	return NULL;
}

/* Remember a fetched policy (replacing the one that expires first when full). */
static void cache_put(const char *domain, const struct sts_policy *p)
{
	pthread_mutex_lock(&S.lock);
	struct cached *c = cache_find(domain);
	if (!c && S.ncache < STS_CACHE_MAX) {
		c = &S.cache[S.ncache++];
	} else if (!c) {
		c = &S.cache[0];
		for (size_t i = 1; i < S.ncache; i++)
			if (S.cache[i].expires < c->expires)
				c = &S.cache[i];
	}
	snprintf(c->domain, sizeof c->domain, "%s", domain);
	c->p = *p;
	c->expires = time(NULL) + (time_t)p->max_age;
	pthread_mutex_unlock(&S.lock);
}

/* A copy of the cached, unexpired policy of domain; false if none. */
static bool cache_get(const char *domain, struct sts_policy *p)
{
	pthread_mutex_lock(&S.lock);
	struct cached *c = cache_find(domain);
	bool ok = c && c->expires > time(NULL);
	if (ok)
		*p = c->p;
	pthread_mutex_unlock(&S.lock);
	return ok;
}

static bool fetch(const char *domain, const char *id, struct sts_policy *p)
{
	char host[300], addr[64], why[256];
	snprintf(host, sizeof host, "mta-sts.%s", domain);
	if (!https_resolve(host, addr)) {
		log_info("mta-sts: %s: no address for %s: no policy fetched", domain, host);
		return false;
	}
	if (!sts_fetch(domain, addr, S.port, S.ca, S.calen, STS_FETCH_TIMEOUT, p, why,
		       sizeof why)) {
		log_warn("mta-sts: %s: policy fetch from %s failed: %s", domain, host, why);
		return false;
	}
	snprintf(p->id, sizeof p->id, "%s", id);
	log_info("mta-sts: %s: policy id=%s mode=%s max_age=%llu mx=%zu pattern(s) fetched",
		 domain, id, sts_mode_name(p->mode), (unsigned long long)p->max_age, p->nmx);
	return true;
}

/* RFC 8461 5.1: the cached policy while its id is still published; a new id
 * (or no cached policy) fetches; a failed fetch keeps what is cached. */
static void policy_of(const char *domain, struct sts_policy *p)
{
	char id[STS_ID_MAX + 1];
	struct sts_policy cached;
	bool have = cache_get(domain, &cached);
	bool published = txt_id(domain, id);
	memset(p, 0, sizeof *p);
	if (published && !(have && !strcmp(cached.id, id)) && fetch(domain, id, p)) {
		cache_put(domain, p);
		return;
	}
	if (have)
		*p = cached;
}

static void answer(int sock, const char *domain)
{
	struct sts_policy p;
	policy_of(domain, &p);
	struct ipc_msg r;
	ipc_msg_init(&r, STS_ANSWER, 0);
	ipc_put_u32(&r, p.mode);
	ipc_put_u64(&r, p.max_age);
	ipc_put_str(&r, p.id);
	ipc_put_u32(&r, (uint32_t)p.nmx);
	for (size_t i = 0; i < p.nmx; i++)
		ipc_put_str(&r, p.mx[i]);
	ipc_send(sock, &r);
	ipc_msg_free(&r);
}

static void *serve_conn(void *arg)
{
	int sock = (int)(intptr_t)arg;
	struct ipc_msg m;
	while (!S.stop && ipc_recv(sock, &m, -1) == 0) {
		const char *d = m.hdr.type == STS_QUERY ? ipc_get_str(&m, 253) : NULL;
		char domain[256];
		bool ok = d && *d && ipc_end(&m);
		if (ok) {
			snprintf(domain, sizeof domain, "%s", d);
			str_lower(domain);
		}
		ipc_msg_free(&m);
		if (!ok) {
			log_warn("mta-sts: malformed query: connection closed");
			break;
		}
		answer(sock, domain);
	}
	close(sock);
	pthread_mutex_lock(&S.lock);
	S.conns--;
	pthread_mutex_unlock(&S.lock);
	return NULL;
}

static void accept_one(int ls, struct accept_gate *gate)
{
	int s = accept_gate_accept(gate, ls, SOCK_CLOEXEC);
	if (s < 0)
		return;
	unsigned uid;
	int pid;
	bool mine = ipc_peer_uid(s, &uid, &pid) == 0 && (uid == S.client_uid || uid == 0);
	pthread_mutex_lock(&S.lock);
	bool room = S.conns < STS_CONNS_MAX;
	if (mine && room)
		S.conns++;
	pthread_mutex_unlock(&S.lock);
	pthread_t t;
	if (!mine || !room ||
	    pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)s) != 0) {
		if (!mine)
			log_warn("mta-sts: refused a connection from uid %u (only the remote agent "
				 "asks)", uid);
		if (mine && room) {
			pthread_mutex_lock(&S.lock);
			S.conns--;
			pthread_mutex_unlock(&S.lock);
		}
		close(s);
		return;
	}
	pthread_detach(t);
}

static void on_stop(int sig)
{
	S.stop = 1;
}

int sts_main(struct instance *in, struct cfg *conf)
{
	char *ca = cfg_path(conf, "smtp_tls_ca_file");
	S.ca = https_read_ca(ca, &S.calen);	/* the fetcher runs chrooted afterwards */
	if (!S.ca)
		fatal("mta-sts: cannot read the CA bundle %s: %s", ca, strerror(errno));
	free(ca);
	S.port = (unsigned)cfg_int(conf, "mta_sts_port");
	S.cache = xcalloc(STS_CACHE_MAX, sizeof *S.cache);
	gid_t gid;
	S.client_uid = getuid();
	if (running_as_root() && account_ids(ACCT_DELIVERD, &S.client_uid, &gid) < 0)
		fatal("mta-sts: no account %s", ACCT_DELIVERD);
	if (dns_init(cfg_str(&in->conf, "dns_server"), 5) < 0)
		fatal("bad dns_server in tern.conf");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatal("mta-sts: libcurl does not initialise");
	char *path = instance_sock(in, STS_SOCK);
	int ls = ipc_listen(path, 0666);	/* peers checked by SO_PEERCRED */
	if (ls < 0)
		fatal("mta-sts: cannot listen on %s: %s", path, strerror(errno));
	free(path);
	privdrop(ACCT_STS, in->run_dir);
	/* A thread per request from the remote agent; DNS and HTTPS to other
	 * hosts. No file once running (the CA store is in memory): Landlock
	 * grants none, libraries' read-only opens just fail. */
	sandbox_enter("deliverd-sts", SB_THREADS | SB_ACCEPT | SB_INET | SB_FILES_READ, NULL, 0);
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGTERM, &sa, NULL);	/* no SA_RESTART: accept returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);	/* a new generation has its own socket */
	log_info("mta-sts policy fetcher started");
	daemon_ready();
	struct accept_gate gate = { .name = "mta-sts" };
	while (!S.stop) {
		int shut = accept_gate_wait_ms(&gate);
		if (shut >= 0)
			poll(NULL, 0, shut);	/* out of descriptors: accept() would fail at once */
		else
			accept_one(ls, &gate);
	}
	log_info("stopping");
	close(ls);
	return 0;
}
