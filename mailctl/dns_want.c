/* dns_want.c — the records `mailctl dns` prints and checks (see dns_want.h). */
#include "mailctl/dns_want.h"
#include "common/dns_text.h"
#include "common/mta_sts.h"
#include "common/directory.h"
#include "common/util.h"
#include "smtpd/settings.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DKIM_TXT_MAX 4096

bool dns_want_valid_domain(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 253)
		return false;
	for (; *d; d++)
		if (!isalnum((unsigned char)*d) && *d != '-' && *d != '.')
			return false;
	return true;
}

static void add(struct dns_wants *ws, const char *comment, const char *prefix, int type,
		char *owner, char *rdata)
{
	ws->w = xrealloc(ws->w, (ws->n + 1) * sizeof *ws->w);
	ws->w[ws->n++] = (struct dns_want){ owner, type, rdata, prefix, comment };
}

static void __attribute__((format(printf, 2, 3))) note(struct dns_wants *ws, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatal("out of memory");
	va_end(ap);
	ws->notes = xrealloc(ws->notes, (ws->nnotes + 1) * sizeof *ws->notes);
	ws->notes[ws->nnotes++] = s;
}

/* SHA-256 of the certificate's SubjectPublicKeyInfo, hex (TLSA 3 1 1). 0 / -1. */
static int spki_sha256(const char *pem_path, char hex[65])
{
	FILE *f = fopen(pem_path, "r");
	if (!f)
		return -1;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return -1;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	int rc = len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) ? 0 : -1;
	for (unsigned i = 0; rc == 0 && i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	OPENSSL_free(der);
	X509_free(x);
	return rc;
}

/* The certificate smtpd presents (smtpd.conf tls_cert). */
static char *smtpd_cert(const struct instance *in)
{
	struct cfg c;
	struct cfg_errors errs = { 0 };
	char *path = NULL;
	if (instance_conf(in, "smtpd", smtpd_settings, &c, &errs) == 0)
		path = cfg_path(&c, "tls_cert");	/* malloc'd already */
	cfg_free(&c);
	return path ? path : xasprintf("%s/tls/cert.pem", in->dir);
}

static void add_tlsa(const struct instance *in, struct dns_wants *ws)
{
	char hex[65], *cert = smtpd_cert(in), *next = xasprintf("%s/%s", in->dir, TLS_NEXT_CERT);
	unsigned port = in->port_base + PORT_SMTP;
	if (spki_sha256(cert, hex) == 0)
		add(ws, "DANE (RFC 7672): the key of the certificate smtpd presents; publish under DNSSEC",
		    NULL, DNS_T_TLSA, xasprintf("_%u._tcp.%s.", port, in->hostname),
		    xasprintf("3 1 1 %s", hex));
	else
		note(ws, "no TLSA record: cannot read the certificate %s", cert);
	if (spki_sha256(next, hex) == 0)
		add(ws, "DANE: the staged next certificate (" TLS_NEXT_CERT "), published before it is used",
		    NULL, DNS_T_TLSA, xasprintf("_%u._tcp.%s.", port, in->hostname),
		    xasprintf("3 1 1 %s", hex));
	free(cert);
	free(next);
}

/* One DKIM record per key of the domain, from the SELECTOR.txt keygen wrote. */
static void add_dkim(const struct instance *in, const char *domain, struct dns_wants *ws)
{
	char *dir = xasprintf("%s/dkim/%s", in->dir, domain);
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t found = 0;
	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 5 || e->d_name[0] == '.' || strcmp(e->d_name + n - 4, ".txt"))
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name), buf[DKIM_TXT_MAX];
		FILE *f = fopen(path, "r");
		size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
		if (f)
			fclose(f);
		free(path);
		buf[len] = 0;
		str_trim(buf);
		if (!buf[0])
			continue;
		add(ws, found++ ? NULL : "DKIM: the public key of each selector (mailctl dkim keygen)",
		    NULL, DNS_T_TXT, xasprintf("%.*s._domainkey.%s.", (int)(n - 4), e->d_name, domain),
		    xstrdup(buf));
	}
	if (d)
		closedir(d);
	if (!found)
		note(ws, "no DKIM key for %s: run `mailctl dkim keygen %s` and publish its record",
		     domain, domain);
	free(dir);
}

static void add_mta_sts(const struct instance *in, const char *domain, struct dns_wants *ws)
{
	char *policy = mta_sts_policy(in), *id = mta_sts_id(policy);
	add(ws, "MTA-STS (RFC 8461): the policy id; senders fetch the policy from mta-sts.DOMAIN",
	    "v=STSv1", DNS_T_TXT, xasprintf("_mta-sts.%s.", domain),
	    xasprintf("v=STSv1; id=%s", id));
	add(ws, "MTA-STS: the policy host (HTTPS with a certificate valid for this name)", NULL,
	    DNS_T_CNAME, xasprintf("mta-sts.%s.", domain), xasprintf("%s.", in->hostname));
	note(ws, "MTA-STS policy served at https://mta-sts.%s/.well-known/mta-sts.txt%s:", domain,
	     mta_sts_enabled(in) ? ""
	     : " once tern.conf sets mta_sts_mode (none today)");
	for (char *line = policy, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		note(ws, "  %.*s", (int)(nl - line), line);
	}
	free(policy);
	free(id);
}

static void add_srv(const struct instance *in, const char *domain, struct dns_wants *ws)
{
	static const struct { const char *svc; unsigned port; } srv[] = {
		{ "submissions", PORT_SMTPS }, { "submission", PORT_SUBMISSION },
		{ "imaps", PORT_IMAPS }, { "imap", PORT_IMAP },
		{ "pop3s", PORT_POP3S }, { "pop3", PORT_POP3 },
	};
	for (size_t i = 0; i < sizeof srv / sizeof srv[0]; i++)
		add(ws, i ? NULL : "Client autoconfiguration: service records (RFC 6186, RFC 8314)",
		    NULL, DNS_T_SRV, xasprintf("_%s._tcp.%s.", srv[i].svc, domain),
		    xasprintf("0 1 %u %s.", in->port_base + srv[i].port, in->hostname));
	add(ws, "Client autoconfiguration: Thunderbird's autoconfig host", NULL, DNS_T_CNAME,
	    xasprintf("autoconfig.%s.", domain), xasprintf("%s.", in->hostname));
}

/* 1 a domain of the directory, 0 not, -1 (why set) the directory cannot say. */
static int local_domain(const struct instance *in, const char *domain, char *why, size_t whylen)
{
	struct dir_settings ds;
	struct directory *d = NULL;
	if (dir_settings_load(in, &ds, why, whylen) == 0)
		d = dir_open(&ds, why, whylen);
	dir_settings_free(&ds);
	if (!d)
		return -1;
	int r = dir_domain_exists(d, domain);
	if (r < 0)
		snprintf(why, whylen, "cannot read the domains of %s: %s", dir_describe(d), dir_last_error());
	dir_close(d);
	return r;
}

int dns_wants_build(const struct instance *in, const char *domain, struct dns_wants *ws,
		    char *why, size_t whylen)
{
	int r = local_domain(in, domain, why, whylen);
	if (r <= 0) {
		if (r == 0)
			snprintf(why, whylen, "%s is not a local domain of this instance (mailctl domain add)",
				 domain);
		return -1;
	}
	const char *rua = "postmaster";
	add(ws, "Mail for the domain goes to this host", NULL, DNS_T_MX,
	    xasprintf("%s.", domain), xasprintf("10 %s.", in->hostname));
	add(ws, "SPF (RFC 7208): only the domain's MX hosts send its mail", "v=spf1", DNS_T_TXT,
	    xasprintf("%s.", domain), xstrdup("v=spf1 mx -all"));
	add_dkim(in, domain, ws);
	add(ws, "DMARC (RFC 7489): quarantine what fails; aggregate reports to the postmaster",
	    "v=DMARC1", DNS_T_TXT, xasprintf("_dmarc.%s.", domain),
	    xasprintf("v=DMARC1; p=quarantine; rua=mailto:%s@%s", rua, domain));
	add_mta_sts(in, domain, ws);
	add(ws, "TLS-RPT (RFC 8460): where senders report TLS failures", "v=TLSRPTv1", DNS_T_TXT,
	    xasprintf("_smtp._tls.%s.", domain),
	    xasprintf("v=TLSRPTv1; rua=mailto:%s@%s", rua, domain));
	add_tlsa(in, ws);
	add_srv(in, domain, ws);
	return 0;
}

void dns_wants_free(struct dns_wants *ws)
{
	for (size_t i = 0; i < ws->n; i++) {
		free(ws->w[i].owner);
		free(ws->w[i].rdata);
	}
	free(ws->w);
	for (size_t i = 0; i < ws->nnotes; i++)
		free(ws->notes[i]);
	free(ws->notes);
	*ws = (struct dns_wants){ 0 };
}
