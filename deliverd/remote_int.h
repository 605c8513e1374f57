/* remote_int.h — internals shared by the remote agent's files. */
#ifndef TERN_DELIVERD_REMOTE_INT_H
#define TERN_DELIVERD_REMOTE_INT_H

#include "common/dkim.h"
#include "common/site.h"
#include "common/tlsrpt_record.h"
#include "deliverd/route.h"
#include "deliverd/smtp_client.h"

#include <stdbool.h>
#include <stdint.h>

/* TLS_DANE is never configured: a host with usable TLSA records gets it. */
enum tls_level { TLS_NONE, TLS_MAY, TLS_ENCRYPT, TLS_VERIFY, TLS_DANE };

struct rconf {
	char *myname;
	char *relayhost, *relay_user, *relay_pass;
	unsigned port;
	enum tls_level tls;
	char **tls_policy;	/* "domain=level" */
	size_t ntls_policy;
	SSL_CTX *tls_ctx;
	SSL_CTX *site_tls_ctx;	/* site_tls = verify: trusts site_ca_file alone; else NULL */
	unsigned dest_concurrency;
	int reuse_time, connect_timeout;
	int deadline;		/* smtp_deadline, seconds */
	bool dkim_sign;
	struct site site;	/* mailbox_hosts: where the site's own recipients go */
	char *site_secret;	/* site_secret_file: AUTH at a mailbox host, "" none */
};
extern struct rconf rconf;

struct rrcpt {
	uint32_t idx;
	char *addr, *orcpt, *domain;
	char *hop;		/* the site's mailbox host to relay it to, "" = by MX */
	uint32_t notify;	/* DSN_NOTIFY_*, 0 = not given */
	int result;		/* QR_* */
	char status[8];
	char text[600];
	bool done;
};

struct rjob {
	uint64_t gen;
	char id[32];
	char *sender;
	uint32_t flags;
	uint64_t size;
	char *envid;		/* "" if none */
	char *prepend;		/* header fields to send on top, "" if none */
	uint32_t ret;		/* 0 none, 1 FULL, 2 HDRS */
	int fd;
	uint32_t n;
	struct rrcpt *r;
	/* filled on the worker */
	const char *msg;	/* mmap of the message */
	char *dkim_header;	/* "DKIM-Signature: ..." CRLF-terminated, or NULL */
	char *alt_body;		/* 8BITMIME downgraded copy (lazily), or NULL */
	size_t alt_len;
	bool site_hop;		/* delivering to a mailbox host of the site: no DKIM, no TLS-RPT */
	struct tlsrpt_record *rpt;	/* TLS outcomes for TLS reports (remote_tlsrpt.c) */
	size_t nrpt;
};

/* remote_tlsrpt.c: TLS reporting (RFC 8460). The policy a session ran under. */
struct sts_policy;
struct dane_tlsa;
struct rpt_policy {
	const char *domain;		/* the recipient (policy) domain */
	enum tlsrpt_policy type;
	const struct sts_policy *sts;	/* TLSRPT_STS */
	const struct dane_tlsa *tlsa;	/* TLSRPT_TLSA, or NULL */
	const char *mismatch;		/* MTA-STS testing: the MX is not in the policy */
};
/* Keep one outcome on the job (bounded; nothing for a configured relay host):
 * result "" for a TLS session that succeeded, else an RFC 8460 result-type. */
void rpt_note(struct rjob *j, const struct rpt_policy *p, const char *mx, const char *ip,
	      const char *local, const char *result, const char *info);
/* The result-type for a certificate that did not verify (X509_V_* code). */
const char *rpt_cert_result(long verify_err);
/* After the job (event loop thread): send its outcomes to queued and free them. */
struct agent;
void rpt_send(struct rjob *j, struct agent *a);

/* remote_send.c: deliver the recipients r[0..n) of job (one domain). */
void remote_deliver_domain(struct rjob *j, struct rrcpt **r, size_t n, const char *domain);
/* remote_send.c: the recipients r[0..n) to the site's mailbox host host. */
void remote_deliver_site(struct rjob *j, struct rrcpt **r, size_t n, const char *host);

/* remote_pool.c: idle connection reuse and per-destination limits. */
bool pool_take(const char *key, struct smtp_client *out);
void pool_put(const char *key, struct smtp_client *c);
void pool_expire(void);
void dest_acquire(const char *domain);
void dest_release(const char *domain);

/* remote_keys.c: DKIM keys by domain; keys_find falls back to the nearest
 * parent domain with a key. */
void keys_load(const char *dkim_dir, char **selectors, size_t nsel);
const struct dkim_key *keys_find(const char *domain);

/* downgrade.c: 8BITMIME -> 7bit (quoted-printable) copy of a message. */
char *downgrade_8bit(const char *msg, size_t len, size_t *outlen);

enum tls_level tls_level_for(const char *domain);

#endif
