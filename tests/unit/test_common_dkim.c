/* Unit tests: DKIM key generation and signing, verified independently by
 * dkimpy (Debian's python3-dkim) for RSA-SHA256 and Ed25519-SHA256. */
#include "common/dkim.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *msg =
	"From: Alice <alice@a.test>\r\n"
	"To: bob@b.test\r\n"
	"Subject: dkim test\r\n"
	"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
	"Message-ID: <1@a.test>\r\n"
	"\r\n"
	"Hello Bob.\r\n"
	".leading dot line\r\n"
	"\r\n\r\n";

static const char *verifier =
	"import sys, dkim\n"
	"msg = open(sys.argv[1], 'rb').read()\n"
	"txt = open(sys.argv[2], 'rb').read()\n"
	"def dns(name, timeout=5):\n"
	"    return txt if name == b'sel._domainkey.a.test.' else None\n"
	"sys.exit(0 if dkim.verify(msg, dnsfunc=dns) else 1)\n";

static int verify_with_dkimpy(const char *signed_msg, const char *txt)
{
	char *mp = xasprintf("%s/signed.eml", check_tmpdir());
	char *tp = xasprintf("%s/record.txt", check_tmpdir());
	char *vp = xasprintf("%s/verify.py", check_tmpdir());
	FILE *f = fopen(mp, "w"); fputs(signed_msg, f); fclose(f);
	f = fopen(tp, "w"); fputs(txt, f); fclose(f);
	f = fopen(vp, "w"); fputs(verifier, f); fclose(f);
	char *cmd = xasprintf("/usr/bin/python3 %s %s %s", vp, mp, tp);
	int rc = system(cmd);
	free(cmd); free(mp); free(tp); free(vp);
	return rc;
}

static void roundtrip(enum dkim_alg alg)
{
	char *pem, *txt, why[256], *sig;
	CHECK(dkim_keygen(alg, &pem, &txt, why, sizeof why) == 0);
	CHECK(strstr(txt, alg == DKIM_ALG_RSA ? "k=rsa; p=" : "k=ed25519; p=") != NULL);
	char *kp = xasprintf("%s/k%d.pem", check_tmpdir(), alg);
	FILE *f = fopen(kp, "w"); fputs(pem, f); fclose(f);
	struct dkim_key key;
	CHECK(dkim_key_load(kp, "a.test", "sel", &key, why, sizeof why) == 0);
	CHECK(key.alg == alg);
	CHECK(dkim_sign_msg(&key, msg, strlen(msg), NULL, &sig, why, sizeof why) == 0);
	CHECK(!strncmp(sig, "DKIM-Signature: v=1;", 20));
	CHECK(strstr(sig, alg == DKIM_ALG_RSA ? "a=rsa-sha256" : "a=ed25519-sha256") != NULL);
	CHECK(strstr(sig, "c=relaxed/relaxed") != NULL);
	CHECK(strstr(sig, "\n") == NULL || strstr(sig, "\r\n\t") != NULL);	/* CRLF folding */
	char *signed_msg = xasprintf("%s\r\n%s", sig, msg);
	CHECK(verify_with_dkimpy(signed_msg, txt) == 0);
	/* Tampered body must fail the independent verifier (the test can fail). */
	char *bad = xstrdup(signed_msg);
	char *h = strstr(bad, "Hello Bob");
	if (h)
		h[0] = 'J';
	CHECK(verify_with_dkimpy(bad, txt) != 0);
	free(bad); free(signed_msg); free(sig); free(kp); free(pem); free(txt);
	dkim_key_free(&key);
}

int main(void)
{
	char why[256];
	struct dkim_key key;
	CHECK(dkim_key_load("/nonexistent.key", "a.test", "s", &key, why, sizeof why) == -1);
	roundtrip(DKIM_ALG_RSA);
	roundtrip(DKIM_ALG_ED25519);
	return check_summary("dkim");
}
