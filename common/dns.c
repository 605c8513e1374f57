/* dns.c — libresolv queries with an optional fixed server. */
#include "common/dns.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS_ANSWER_MAX 65536

/* The configuration read by dns_init (before any chroot), and one resolver
 * state per thread made from it on first use: libresolv states must not be
 * shared between threads (deliverd and smtpd query from worker threads). */
static struct {
	unsigned gen;		/* bumped by dns_init: threads rebuild their state */
	int timeout;
	int nscount;
	struct sockaddr_in ns[MAXNS];
} conf;
static __thread struct __res_state res;
static __thread unsigned res_gen;	/* 0: this thread has no state yet */
static pthread_key_t res_key;		/* closes a thread's state when it exits */
static pthread_once_t res_key_once = PTHREAD_ONCE_INIT;

static void res_close_at_exit(void *state)
{
	res_nclose(state);
}

static void res_key_init(void)
{
	pthread_key_create(&res_key, res_close_at_exit);
}

static int parse_server(const char *server, struct sockaddr_in *sin4, struct sockaddr_in6 *sin6,
			int *is6)
{
	char host[128];
	unsigned port = 53;
	const char *p;
	if (server[0] == '[') {
		p = strchr(server, ']');
		if (!p || (size_t)(p - server - 1) >= sizeof host)
			return -1;
		memcpy(host, server + 1, (size_t)(p - server - 1));
		host[p - server - 1] = '\0';
		p++;
	} else {
		p = strrchr(server, ':');
		if (p && strchr(server, ':') != p)
			p = NULL;	/* bare IPv6 literal without port */
		size_t n = p ? (size_t)(p - server) : strlen(server);
		if (n >= sizeof host)
			return -1;
		memcpy(host, server, n);
		host[n] = '\0';
	}
	if (p && *p == ':') {
		uint64_t v;
		if (!parse_u64(p + 1, 65535, &v) || v == 0)
			return -1;
		port = (unsigned)v;
	} else if (p && *p) {
		return -1;
	}
	memset(sin4, 0, sizeof *sin4);
	memset(sin6, 0, sizeof *sin6);
	if (inet_pton(AF_INET, host, &sin4->sin_addr) == 1) {
		sin4->sin_family = AF_INET;
		sin4->sin_port = htons((uint16_t)port);
		*is6 = 0;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*is6 = 1;
		return 0;
	}
	return -1;
}

bool dns_server_check(const char *server, char *why, size_t whylen)
{
	struct sockaddr_in sin4;
	struct sockaddr_in6 sin6;
	int is6 = 0;
	if (!*server)
		return true;
	if (parse_server(server, &sin4, &sin6, &is6) < 0) {
		snprintf(why, whylen, "is not HOST:PORT with an IP address as HOST (e.g. 127.0.0.1:53)");
		return false;
	}
	if (is6) {
		snprintf(why, whylen, "is an IPv6 server: only an IPv4 one can be used");
		return false;
	}
	return true;
}

int dns_init(const char *server, int timeout_sec)
{
	struct sockaddr_in sin4;
	struct sockaddr_in6 sin6;
	int is6 = 0;
	char why[128];
	if (server && *server) {
		/* An IPv6 server would need glibc's private _ext fields: refuse rather
		 * than silently use another server. */
		if (!dns_server_check(server, why, sizeof why) ||
		    parse_server(server, &sin4, &sin6, &is6) < 0)
			return -1;
		conf.nscount = 1;
		conf.ns[0] = sin4;
	} else {
		/* The system's IPv4 servers, read now: a chrooted process cannot later. */
		struct __res_state sys;
		memset(&sys, 0, sizeof sys);
		if (res_ninit(&sys) < 0)
			return -1;
		conf.nscount = 0;
		for (int i = 0; i < sys.nscount && i < MAXNS; i++)
			if (sys.nsaddr_list[i].sin_family == AF_INET)
				conf.ns[conf.nscount++] = sys.nsaddr_list[i];
		res_nclose(&sys);
	}
	conf.timeout = timeout_sec > 0 ? timeout_sec : 5;
	conf.gen++;
	return 0;
}

/* This thread's resolver, (re)built from conf when needed. */
static struct __res_state *thread_res(void)
{
	if (conf.gen == 0 && dns_init(NULL, 5) < 0)
		return NULL;
	if (res_gen == conf.gen)
		return &res;
	if (res_gen)
		res_nclose(&res);
	memset(&res, 0, sizeof res);
	if (res_ninit(&res) < 0)
		return NULL;
	res.retrans = conf.timeout;
	res.retry = 2;
	res.options &= ~(unsigned long)(RES_DEFNAMES | RES_DNSRCH);	/* names are FQDNs */
	if (conf.nscount) {
		res.nscount = conf.nscount;
		for (int i = 0; i < conf.nscount; i++)
			res.nsaddr_list[i] = conf.ns[i];
	}
	res_gen = conf.gen;
	pthread_once(&res_key_once, res_key_init);
	pthread_setspecific(res_key, &res);
	return &res;
}

/* Fuzzers put their input where the server's answer would be. */
static dns_answer_fn answer_source;

void dns_set_answer_source(dns_answer_fn fn)
{
	answer_source = fn;
}

static enum dns_status query(const char *name, int type, unsigned char **ans, int *len)
{
	if (answer_source)
		return answer_source(name, type, ans, len);
	struct __res_state *rs = thread_res();
	*ans = NULL;
	if (!rs)
		return DNS_TEMPFAIL;
	*ans = xmalloc(DNS_ANSWER_MAX);
	int n = res_nquery(rs, name, ns_c_in, type, *ans, DNS_ANSWER_MAX);
	if (n < 0) {
		free(*ans);
		*ans = NULL;
		switch (rs->res_h_errno) {
		case HOST_NOT_FOUND: return DNS_NXDOMAIN;
		case NO_DATA: return DNS_NODATA;
		case NO_RECOVERY: return DNS_ERROR;
		default: return DNS_TEMPFAIL;
		}
	}
	*len = n;
	return DNS_OK;
}

enum dns_status dns_query_raw(const char *name, int type, unsigned char **ans, int *len)
{
	return query(name, type, ans, len);
}

enum dns_status dns_each_answer(const char *name, int type,
				int (*fn)(ns_msg *msg, ns_rr *rr, void *arg), void *arg)
{
	unsigned char *ans;
	int len;
	enum dns_status st = query(name, type, &ans, &len);
	if (st != DNS_OK)
		return st;
	ns_msg msg;
	if (ns_initparse(ans, len, &msg) < 0) {
		free(ans);
		return DNS_ERROR;
	}
	int count = ns_msg_count(msg, ns_s_an), found = 0;
	for (int i = 0; i < count; i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
			free(ans);
			return DNS_ERROR;
		}
		if ((int)ns_rr_type(rr) != type)
			continue;	/* CNAMEs on the way */
		if (fn(&msg, &rr, arg) < 0) {
			free(ans);
			return DNS_ERROR;
		}
		found++;
	}
	free(ans);
	return found ? DNS_OK : DNS_NODATA;
}

struct mx_acc { struct dns_mx *out; size_t max, n; };

static int mx_cb(ns_msg *msg, ns_rr *rr, void *arg)
{
	struct mx_acc *a = arg;
	const unsigned char *rd = ns_rr_rdata(*rr);
	if (ns_rr_rdlen(*rr) < 3)
		return -1;
	if (a->n >= a->max)
		return 0;
	struct dns_mx *mx = &a->out[a->n];
	mx->pref = (unsigned)(rd[0] << 8 | rd[1]);
	if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), rd + 2, mx->host,
			       sizeof mx->host) < 0)
		return -1;
	a->n++;
	return 0;
}

enum dns_status dns_mx(const char *name, struct dns_mx *out, size_t max, size_t *n)
{
	struct mx_acc a = { out, max, 0 };
	enum dns_status st = dns_each_answer(name, ns_t_mx, mx_cb, &a);
	*n = a.n;
	/* Stable insertion sort by preference: keeps answer order for ties. */
	for (size_t i = 1; i < a.n; i++) {
		struct dns_mx t = out[i];
		size_t j = i;
		while (j > 0 && out[j - 1].pref > t.pref) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = t;
	}
	return st;
}

struct addr_acc { char (*out)[64]; size_t max, n; int af; };

static int addr_cb(ns_msg *msg, ns_rr *rr, void *arg)
{
	struct addr_acc *a = arg;
	size_t want = a->af == AF_INET ? 4 : 16;
	if (ns_rr_rdlen(*rr) != want)
		return -1;
	if (a->n < a->max && inet_ntop(a->af, ns_rr_rdata(*rr), a->out[a->n], 64))
		a->n++;
	return 0;
}

enum dns_status dns_a(const char *name, char out[][64], size_t max, size_t *n)
{
	struct addr_acc a = { out, max, 0, AF_INET };
	enum dns_status st = dns_each_answer(name, ns_t_a, addr_cb, &a);
	*n = a.n;
	return st;
}

enum dns_status dns_aaaa(const char *name, char out[][64], size_t max, size_t *n)
{
	struct addr_acc a = { out, max, 0, AF_INET6 };
	enum dns_status st = dns_each_answer(name, ns_t_aaaa, addr_cb, &a);
	*n = a.n;
	return st;
}

struct txt_acc { char **out; size_t n; };

static int txt_cb(ns_msg *msg, ns_rr *rr, void *arg)
{
	struct txt_acc *a = arg;
	const unsigned char *p = ns_rr_rdata(*rr), *end = p + ns_rr_rdlen(*rr);
	size_t total = 0;
	char *s = xmalloc(ns_rr_rdlen(*rr) + 1);
	while (p < end) {
		size_t l = *p++;
		if (l > (size_t)(end - p)) {
			free(s);
			return -1;
		}
		memcpy(s + total, p, l);
		total += l;
		p += l;
	}
	s[total] = '\0';
	if (a->n >= 64) {
		free(s);
		return 0;
	}
	a->out = xrealloc(a->out, (a->n + 1) * sizeof *a->out);
	a->out[a->n++] = s;
	return 0;
}

enum dns_status dns_txt(const char *name, char ***out, size_t *n)
{
	struct txt_acc a = { NULL, 0 };
	enum dns_status st = dns_each_answer(name, ns_t_txt, txt_cb, &a);
	if (st != DNS_OK) {
		dns_txt_free(a.out, a.n);
		a.out = NULL;
		a.n = 0;
	}
	*out = a.out;
	*n = a.n;
	return st;
}

void dns_txt_free(char **txt, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(txt[i]);
	free(txt);
}

struct ptr_acc { char *out; size_t len; int done; };

static int ptr_cb(ns_msg *msg, ns_rr *rr, void *arg)
{
	struct ptr_acc *a = arg;
	if (a->done)
		return 0;
	if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), ns_rr_rdata(*rr), a->out,
			       a->len) < 0)
		return -1;
	a->done = 1;
	return 0;
}

enum dns_status dns_ptr(const char *addr, char *out, size_t len)
{
	unsigned char b[16];
	char name[128];
	size_t o = 0;
	if (inet_pton(AF_INET, addr, b) == 1) {
		snprintf(name, sizeof name, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
	} else if (inet_pton(AF_INET6, addr, b) == 1) {
		static const char hex[] = "0123456789abcdef";
		for (int i = 15; i >= 0; i--) {
			name[o++] = hex[b[i] & 15];
			name[o++] = '.';
			name[o++] = hex[b[i] >> 4];
			name[o++] = '.';
		}
		strcpy(name + o, "ip6.arpa");
	} else {
		return DNS_ERROR;
	}
	struct ptr_acc a = { out, len, 0 };
	return dns_each_answer(name, ns_t_ptr, ptr_cb, &a);
}

const char *dns_status_str(enum dns_status s)
{
	static const char *names[] = { "ok", "nxdomain", "nodata", "tempfail", "error" };
	return (unsigned)s < ARRAY_LEN(names) ? names[s] : "?";
}
