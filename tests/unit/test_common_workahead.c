/* Unit tests: helper threads for ordered runs (common/workahead.h) — items
 * done in order, each after its prep, never more than the window ahead — and
 * a folder index built with helpers equal to one built by one thread, and to
 * what the parser renders. */
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/mime.h"
#include "common/util.h"
#include "common/workahead.h"
#include "tests/unit/check.h"

#include <event2/buffer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#define WIN 8

struct run {
	size_t slot[WIN];	/* i + 1 once item i is prepared, 0 after done */
	atomic_size_t ndone;
	atomic_int ahead;	/* a prep beyond the window */
	atomic_int helped;	/* preps on another thread than the caller's */
	atomic_uint work;
	pthread_t caller;
	size_t order_bad, seen;
};

static void prep(size_t i, void *arg)
{
	struct run *r = arg;
	if (i >= atomic_load(&r->ndone) + WIN)
		atomic_store(&r->ahead, 1);
	if (!pthread_equal(pthread_self(), r->caller))
		atomic_fetch_add(&r->helped, 1);
	unsigned x = 0;		/* a little work, so helpers get some */
	for (unsigned k = 0; k < 2000; k++)
		x += k * (unsigned)i;
	atomic_fetch_add(&r->work, x);
	r->slot[i % WIN] = i + 1;
}

static void done(size_t i, void *arg)
{
	struct run *r = arg;
	if (i != r->seen || r->slot[i % WIN] != i + 1 || !pthread_equal(pthread_self(), r->caller))
		r->order_bad++;
	r->slot[i % WIN] = 0;
	r->seen++;
	atomic_store(&r->ndone, i + 1);
}

static void run_once(size_t n, struct run *r)
{
	memset(r, 0, sizeof *r);
	r->caller = pthread_self();
	workahead_run(n, WIN, prep, done, r);
}

/* Before any helper is started: every item on the caller, in order. */
static void test_without_helpers(void)
{
	struct run r;
	run_once(100, &r);
	CHECK(r.seen == 100 && r.order_bad == 0 && !r.ahead && r.helped == 0);
	run_once(0, &r);
	CHECK(r.seen == 0);
}

static void test_with_helpers(void)
{
	struct run r;
	for (int k = 0; k < 5; k++) {
		run_once(3000, &r);
		CHECK(r.seen == 3000 && r.order_bad == 0 && !r.ahead);
		run_once(1, &r);
		CHECK(r.seen == 1 && r.order_bad == 0);
	}
}

/* ---- a folder index built with helpers ---- */

static const char *const bodies[] = {
	"From: A <a@example.org>\nTo: b@example.org, \"C D\" <c@example.org>\nSubject: plain #\n"
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <#@example.org>\n\nhello\nworld\n",
	"From: x@example.org\nSubject: =?utf-8?q?caf=C3=A9?= #\nMIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"b#\"\n\npre\n--b#\nContent-Type: text/plain\n\n"
	"one\n--b#\nContent-Type: application/octet-stream; name=\"f.bin\"\n"
	"Content-Disposition: attachment; filename=\"f.bin\"\nContent-Transfer-Encoding: base64\n\n"
	"AAAA\n--b#--\n",
	"Subject: nested #\nContent-Type: message/rfc822\n\nFrom: inner@example.org\nSubject: in #\n\nbody #\n",
	"Subject: \"quoted\" \\ back #\nReply-To: group: m@example.org, n@example.org;\n\nx #\n",
};

#define NMSG 300

/* tmpl with each '#' replaced by n */
static void fill(char *out, size_t cap, const char *tmpl, int n)
{
	size_t o = 0;
	for (; *tmpl && o + 16 < cap; tmpl++) {
		if (*tmpl == '#')
			o += (size_t)snprintf(out + o, cap - o, "%d", n);
		else
			out[o++] = *tmpl;
	}
	out[o] = 0;
}

static char *render_env(const char *text)
{
	struct mime_msg *m = mime_parse(text, strlen(text));
	struct evbuffer *b = evbuffer_new();
	mime_envelope(m, m->root, b);
	evbuffer_add(b, "", 1);
	char *r = xstrdup((char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	mime_free(m);
	return r;
}

static char *crlf(const char *s)
{
	char *o = xmalloc(2 * strlen(s) + 1), *p = o;
	for (; *s; s++) {
		if (*s == '\n')
			*p++ = '\r';
		*p++ = *s;
	}
	*p = 0;
	return o;
}

struct snapshot {
	char *e[NMSG + 1], *s[NMSG + 1], *b[NMSG + 1], *file[NMSG + 1];
	uint64_t size[NMSG + 1];
};

static void snap(const char *dir, struct snapshot *sn)
{
	char why[256];
	uint32_t *uids = NULL;
	size_t n = 0;
	CHECK(mi_drop(dir) == 0);
	struct mi *mi = mi_open(dir, &uids, &n, why, sizeof why);
	CHECK(mi && n == NMSG);
	for (uint32_t u = 1; u <= NMSG && mi; u++) {
		struct mi_rec r;
		CHECK(mi_get(mi, u, &r) == 1);
		sn->file[u] = xstrdup(r.file);
		sn->size[u] = r.size;
		mi_rec_clear(&r);
		sn->e[u] = mi_cached(mi, u, 'E');
		sn->s[u] = mi_cached(mi, u, 'S');
		sn->b[u] = mi_cached(mi, u, 'B');
	}
	free(uids);
	mi_close(mi);
}

static void test_index_built_with_helpers(void)
{
	char *dir = xasprintf("%s/Ahead", check_tmpdir());
	CHECK(ms_ensure_maildir(dir, false) == 0);
	char *text[NMSG + 1];
	for (int i = 1; i <= NMSG; i++) {
		char name[64], buf[2048];
		/* names in another order than their ages: UIDs follow age */
		snprintf(name, sizeof name, "%d.M%dP1.test:2,%s", 1700000000 + (i * 37) % NMSG, i,
			 i % 2 ? "S" : "");
		fill(buf, sizeof buf, bodies[i % 4], i);
		CHECK(check_put_file(dir, "cur", name, buf) == 0);
		char *path = xasprintf("%s/cur/%s", dir, name);
		struct timeval tv[2] = { { 1700000000 + i, 0 }, { 1700000000 + i, 0 } };
		CHECK(utimes(path, tv) == 0);
		free(path);
		text[i] = xstrdup(buf);
	}
	static struct snapshot one, many;
	snap(dir, &one);
	CHECK(workahead_start(2) == 2);
	snap(dir, &many);
	size_t same = 0, parser = 0;
	for (int u = 1; u <= NMSG; u++) {
		same += one.file[u] && many.file[u] && !strcmp(one.file[u], many.file[u]) &&
			one.size[u] == many.size[u] && one.e[u] && many.e[u] && !strcmp(one.e[u], many.e[u]) &&
			one.s[u] && many.s[u] && !strcmp(one.s[u], many.s[u]) && one.b[u] && many.b[u] &&
			!strcmp(one.b[u], many.b[u]);
		/* UID u is the u-th oldest: message u; its ENVELOPE as the parser renders it */
		char *c = crlf(text[u]), *env = render_env(c), mark[32];
		snprintf(mark, sizeof mark, ".M%dP1.", u);
		parser += many.e[u] && !strcmp(many.e[u], env) && many.size[u] == strlen(c) &&
			  many.file[u] && strstr(many.file[u], mark);
		free(env);
		free(c);
	}
	CHECK(same == NMSG);
	CHECK(parser == NMSG);
	for (int u = 1; u <= NMSG; u++) {
		free(one.e[u]), free(one.s[u]), free(one.b[u]), free(one.file[u]);
		free(many.e[u]), free(many.s[u]), free(many.b[u]), free(many.file[u]);
		free(text[u]);
	}
	free(dir);
}

int main(void)
{
	test_without_helpers();
	test_index_built_with_helpers();	/* starts the helpers */
	test_with_helpers();
	return check_summary("workahead");
}
