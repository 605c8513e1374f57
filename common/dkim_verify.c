/* dkim_verify.c — DKIM verification (OpenDKIM), keys looked up through
 * common/dns so `dns_server` and chroots work. */
#include "common/dkim.h"
#include "common/dns.h"
#include "common/util.h"

#include <opendkim/dkim.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Key lookup callback: TXT record of SELECTOR._domainkey.DOMAIN. */
static DKIM_CBSTAT key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	const char *d = (const char *)dkim_sig_getdomain(sig);
	const char *s = (const char *)dkim_sig_getselector(sig);
	char name[512], **txt;
	size_t n;
	if (!d || !s || snprintf(name, sizeof name, "%s._domainkey.%s", s, d) >= (int)sizeof name)
		return DKIM_CBSTAT_ERROR;
	switch (dns_txt(name, &txt, &n)) {
	case DNS_OK:
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		return DKIM_CBSTAT_NOTFOUND;
	case DNS_TEMPFAIL:
		return DKIM_CBSTAT_TRYAGAIN;
	default:
		return DKIM_CBSTAT_ERROR;
	}
	/* RFC 6376 3.6.2.2: several records make the result undefined: use the first. */
	int ok = strlen(txt[0]) < buflen;
	if (ok)
		strcpy((char *)buf, txt[0]);
	dns_txt_free(txt, n);
	return ok ? DKIM_CBSTAT_CONTINUE : DKIM_CBSTAT_ERROR;
}

static DKIM_LIB *vlib;
static pthread_once_t vlib_once = PTHREAD_ONCE_INIT;

static void vlib_init(void)
{
	vlib = dkim_init(NULL, NULL);
	if (vlib) {
		unsigned int flags = DKIM_LIBFLAGS_FIXCRLF;
		dkim_options(vlib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
		dkim_set_key_lookup(vlib, key_lookup);
	}
}

static DKIM_LIB *verify_lib(void)
{
	pthread_once(&vlib_once, vlib_init);
	return vlib;
}

static void fill_sig(DKIM *d, DKIM_SIGINFO *sig, struct dkim_sig_result *r)
{
	const char *dom = (const char *)dkim_sig_getdomain(sig);
	const char *sel = (const char *)dkim_sig_getselector(sig);
	snprintf(r->domain, sizeof r->domain, "%s", dom ? dom : "");
	snprintf(r->selector, sizeof r->selector, "%s", sel ? sel : "");
	size_t blen = sizeof r->b;
	if (dkim_get_sigsubstring(d, sig, r->b, &blen) != DKIM_STAT_OK)
		r->b[0] = '\0';
	unsigned flags = dkim_sig_getflags(sig);
	int err = dkim_sig_geterror(sig);
	if (DKIM_SIG_CHECK(sig)) {
		r->result = DKIM_PASS;
	} else if (err == DKIM_SIGERROR_KEYFAIL || err == DKIM_SIGERROR_DNSSYNTAX) {
		r->result = DKIM_TEMPERROR;
	} else if (!(flags & DKIM_SIGFLAG_PROCESSED) || err == DKIM_SIGERROR_NOKEY ||
		   err == DKIM_SIGERROR_KEYREVOKED || err == DKIM_SIGERROR_MISSING_V ||
		   err == DKIM_SIGERROR_VERSION || err == DKIM_SIGERROR_INVALID_HC ||
		   err == DKIM_SIGERROR_INVALID_BC) {
		r->result = DKIM_PERMERROR;
	} else {
		r->result = DKIM_FAIL;
	}
	if (r->result != DKIM_PASS) {
		const char *why = err != DKIM_SIGERROR_OK ? dkim_sig_geterrorstr(err)
			: dkim_sig_getbh(sig) != DKIM_SIGBH_MATCH ? "body hash did not verify"
			: "signature did not verify";
		snprintf(r->reason, sizeof r->reason, "%s", why ? why : "failed");
	}
}

struct dkim_verifier {
	DKIM *d;
	DKIM_STAT st;
};

struct dkim_verifier *dkim_verifier_new(void)
{
	struct dkim_verifier *v = xcalloc(1, sizeof *v);
	DKIM_LIB *lib = verify_lib();
	v->st = DKIM_STAT_INTERNAL;
	if (lib)
		v->d = dkim_verify(lib, (const unsigned char *)"tern", NULL, &v->st);
	return v;
}

void dkim_verifier_feed(struct dkim_verifier *v, const char *p, size_t n)
{
	if (v->d && v->st == DKIM_STAT_OK && n)
		v->st = dkim_chunk(v->d, (unsigned char *)p, n);
}

void dkim_verifier_finish(struct dkim_verifier *v, struct dkim_verdict *out)
{
	memset(out, 0, sizeof *out);
	if (v->d) {
		DKIM_STAT st = v->st;
		if (st == DKIM_STAT_OK)
			st = dkim_chunk(v->d, NULL, 0);
		if (st == DKIM_STAT_OK || st == DKIM_STAT_NOSIG)
			st = dkim_eom(v->d, NULL);
		DKIM_SIGINFO **sigs = NULL;
		int nsigs = 0;
		if (st != DKIM_STAT_NOSIG && dkim_getsiglist(v->d, &sigs, &nsigs) == DKIM_STAT_OK)
			for (int i = 0; i < nsigs && out->nsigs < DKIM_MAX_SIGS; i++)
				fill_sig(v->d, sigs[i], &out->sigs[out->nsigs++]);
		dkim_free(v->d);
	}
	free(v);
}

int dkim_verify_msg(const char *msg, size_t len, struct dkim_verdict *out, char *why, size_t whylen)
{
	struct dkim_verifier *v = dkim_verifier_new();
	if (!v->d) {
		snprintf(why, whylen, "OpenDKIM initialisation failed");
		free(v);
		memset(out, 0, sizeof *out);
		return -1;
	}
	dkim_verifier_feed(v, msg, len);
	dkim_verifier_finish(v, out);
	return 0;
}

const char *dkim_result_str(enum dkim_result r)
{
	static const char *names[] = { "none", "pass", "fail", "temperror", "permerror", "neutral" };
	return (unsigned)r < ARRAY_LEN(names) ? names[r] : "permerror";
}
