/* Unit tests: 8BITMIME downgrade. The output must be 7-bit, and Python's email
 * package (an independent MIME implementation) must decode each part back to the
 * original 8-bit text. */
#include "deliverd/remote_int.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *checker =
	"import os, sys, email, email.policy\n"
	"m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.compat32)\n"
	"want = [os.fsencode(w) for w in sys.argv[2:]]\n"
	"got = [p.get_payload(decode=True) for p in m.walk() if not p.is_multipart()]\n"
	"ctes = [p.get('Content-Transfer-Encoding', '7bit').lower() for p in m.walk() if not p.is_multipart()]\n"
	"ok = got == want\n"
	"if not ok: print('got', got, 'want', want, ctes)\n"
	"sys.exit(0 if ok else 1)\n";

static int python_check(const char *msg, size_t len, const char *args)
{
	char *mp = xasprintf("%s/m.eml", check_tmpdir()), *cp = xasprintf("%s/c.py", check_tmpdir());
	FILE *f = fopen(mp, "wb"); fwrite(msg, 1, len, f); fclose(f);
	f = fopen(cp, "w"); fputs(checker, f); fclose(f);
	char *cmd = xasprintf("/usr/bin/python3 %s %s %s", cp, mp, args);
	int rc = system(cmd);
	free(cmd); free(mp); free(cp);
	return rc;
}

static bool seven_bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

static bool short_lines(const char *s, size_t n)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			col = 0;
		else if (++col > 78)
			return false;
	}
	return true;
}

int main(void)
{
	size_t n;
	const char *simple =
		"From: a@a.test\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 8bit\r\n\r\n"
		"Gr\xc3\xbc\xc3\x9f" "e = equal, trailing space \r\n"
		"a very long line that goes on and on and on and on and on and on and on and \xc3\xa9nd\r\n";
	char *out = downgrade_8bit(simple, strlen(simple), &n);
	CHECK(seven_bit(out, n) && short_lines(out, n));
	CHECK(strstr(out, "Content-Transfer-Encoding: quoted-printable\r\n") != NULL);
	CHECK(strstr(out, "Content-Transfer-Encoding: 8bit") == NULL);
	CHECK(strstr(out, "=C3=BC") != NULL);
	CHECK(python_check(out, n, "'Gr\xc3\xbc\xc3\x9f" "e = equal, trailing space \r\n"
			   "a very long line that goes on and on and on and on and on and on and on and \xc3\xa9nd\r\n'") == 0);
	free(out);

	const char *multi =
		"From: a@a.test\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
		"preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nplain ascii\r\n"
		"--XX\r\nContent-Type: text/plain; charset=latin1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
		"caf\xe9\r\n--XX\r\nContent-Type: application/octet-stream\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--XX--\r\nepilogue\r\n";
	out = downgrade_8bit(multi, strlen(multi), &n);
	CHECK(seven_bit(out, n));
	CHECK(strstr(out, "caf=E9") != NULL);
	CHECK(strstr(out, "plain ascii\r\n--XX\r\n") != NULL);	/* untouched parts stay byte-exact */
	CHECK(strstr(out, "aGVsbG8=\r\n--XX--\r\nepilogue\r\n") != NULL);
	CHECK(python_check(out, n, "'plain ascii' 'caf\xe9' 'hello'") == 0);
	free(out);

	const char *ascii = "From: a@a.test\r\n\r\nhello\r\n";
	out = downgrade_8bit(ascii, strlen(ascii), &n);
	CHECK(n == strlen(ascii) && !memcmp(out, ascii, n));	/* nothing to do: identical */
	free(out);

	/* A header whose last field ends in a bare LF before the empty line: the
	 * header still ends at that empty line (it was taken for all header, and
	 * the 8-bit body went out unchanged). */
	const char *lf = "Subject: x\nContent-Transfer-Encoding: 8bit\n\r\nbody \xc3\xa9\r\n";
	out = downgrade_8bit(lf, strlen(lf), &n);
	CHECK(seven_bit(out, n));
	CHECK(strstr(out, "Subject: x\nContent-Transfer-Encoding: quoted-printable\r\n\r\nbody =C3=A9\r\n"));
	free(out);
	/* Removing the old Content-Transfer-Encoding field must not move the end
	 * of the header: downgrading the result again changes nothing. */
	const char *moved = "A: b\r\nContent-Transfer-Encoding: 8bit\n\r\n\xc3\xa9\r\n\r\n\xc3\xa9\r\n";
	size_t n2;
	out = downgrade_8bit(moved, strlen(moved), &n);
	char *again = downgrade_8bit(out, n, &n2);
	CHECK(seven_bit(out, n) && n2 == n && !memcmp(out, again, n));
	free(out);
	free(again);
	/* A part ending in a bare LF before its delimiter (fuzz_deliverd, CI of
	 * 6d8546a): the LF was quoted-printable encoded as =0A, the closing
	 * delimiter no longer started a line, and a second downgrade took a
	 * "--b1" in the epilogue for it. The LF belongs to the delimiter. */
	const char *bare = "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
		"--b1\r\nSubject: x\r\n\r\nbody \xe2\x82\xac-\n--b1--\r\n"
		"epilog\r\n--b1\r\n\r\nbody \xe2\x82\r\n";
	out = downgrade_8bit(bare, strlen(bare), &n);
	again = downgrade_8bit(out, n, &n2);
	CHECK(strstr(out, "body =E2=82=AC-\n--b1--\r\nepilog\r\n--b1\r\n\r\nbody \xe2\x82\r\n") != NULL);
	CHECK(n2 == n && !memcmp(out, again, n));
	free(out);
	free(again);
	return check_summary("downgrade");
}
