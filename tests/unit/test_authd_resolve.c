/* Unit tests: recipient, sender and alias resolution over a real user database. */
#include "authd/resolve.h"
#include "common/site.h"
#include "common/userdb.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dbpath;
static struct directory *db;
static struct expansion x;

static const struct userdb_user *quota(uint64_t q)
{
	static struct userdb_user u;
	u.quota = q;
	return &u;
}

static struct directory *open_bdb(const char *path)
{
	char why[256];
	struct dir_settings s = { .backend = DIR_BDB, .db_dir = path };
	struct directory *d = dir_open(&s, why, sizeof why);
	CHECK(d != NULL);
	return d;
}

static void setup(void)
{
	char why[256];
	const char *db = dbpath;
	CHECK(userdb_domain_add(db, "example.test", why, sizeof why) == 0);
	CHECK(userdb_domain_add(db, "catch.test", why, sizeof why) == 0);
	CHECK(userdb_domain_add(db, "alias.test", why, sizeof why) == 0);
	CHECK(userdb_user_add(db, "alice@example.test", "pw", quota(1000), why, sizeof why) == 0);
	CHECK(userdb_user_add(db, "bob@example.test", "pw", quota(0), why, sizeof why) == 0);
	CHECK(userdb_user_add(db, "postmaster@catch.test", "pw", quota(0), why, sizeof why) == 0);
	CHECK(userdb_alias_add(db, "info@example.test", "alice@example.test,bob@example.test", why, sizeof why) == 0);
	CHECK(userdb_alias_add(db, "team@example.test", "info@example.test,alice@example.test", why, sizeof why) == 0);
	CHECK(userdb_alias_add(db, "loop1@example.test", "loop2@example.test", why, sizeof why) == 0);
	CHECK(userdb_alias_add(db, "loop2@example.test", "loop1@example.test", why, sizeof why) == 0);
	CHECK(userdb_alias_add(db, "alice@example.test", "alice@example.test,bob@example.test", why, sizeof why) == 0);
	CHECK(userdb_alias_add(db, "fwd@example.test", "someone@remote.test", why, sizeof why) == 0);
	CHECK(userdb_alias_add(db, "mixed@example.test", "someone@remote.test,bob@example.test", why, sizeof why) == 0);
	CHECK(userdb_alias_add(db, "ghost@example.test", "nobody@example.test", why, sizeof why) == 0);
	CHECK(userdb_alias_add(db, "@catch.test", "postmaster@catch.test", why, sizeof why) == 0);
	CHECK(userdb_alias_add(db, "@alias.test", "@example.test", why, sizeof why) == 0);
	/* A chain of 12 aliases: deeper than the limit of 10. */
	for (int i = 0; i < 12; i++) {
		char k[64], t[64];
		snprintf(k, sizeof k, "deep%d@example.test", i);
		snprintf(t, sizeof t, i == 11 ? "bob@example.test" : "deep%d@example.test", i + 1);
		CHECK(userdb_alias_add(db, k, t, why, sizeof why) == 0);
	}
}

static bool has_box(const char *mailbox, const char *folder)
{
	for (size_t i = 0; i < x.n; i++)
		if (!strcmp(x.box[i].mailbox, mailbox) && !strcmp(x.box[i].folder, folder))
			return true;
	return false;
}

static void test_rcpt(void)
{
	CHECK(resolve_rcpt(db, NULL, "alice@example.test", NULL) == RCPT_LOCAL);
	CHECK(resolve_rcpt(db, NULL, "ALICE@Example.Test", NULL) == RCPT_LOCAL);
	CHECK(resolve_rcpt(db, NULL, "alice+lists@example.test", NULL) == RCPT_LOCAL);
	CHECK(resolve_rcpt(db, NULL, "info@example.test", NULL) == RCPT_LOCAL);
	CHECK(resolve_rcpt(db, NULL, "nobody@example.test", NULL) == RCPT_UNKNOWN);
	CHECK(resolve_rcpt(db, NULL, "anything@catch.test", NULL) == RCPT_LOCAL);
	CHECK(resolve_rcpt(db, NULL, "x@remote.test", NULL) == RCPT_REMOTE);
	CHECK(resolve_rcpt(db, NULL, "not an address", NULL) == RCPT_UNKNOWN);
	CHECK(resolve_rcpt(db, NULL, "", NULL) == RCPT_UNKNOWN);
	CHECK(resolve_rcpt(db, NULL, "a/b@example.test", NULL) == RCPT_UNKNOWN);
}

static void test_expand(void)
{
	CHECK(resolve_expand(db, NULL, "bob@example.test", 10, &x) == EXPAND_OK);
	CHECK(x.n == 1 && has_box("bob@example.test", ""));
	CHECK(resolve_expand(db, NULL, "Bob+Lists@EXAMPLE.test", 10, &x) == EXPAND_OK);
	CHECK(x.n == 1 && has_box("bob@example.test", "lists"));
	/* One to many, nested, deduplicated. */
	CHECK(resolve_expand(db, NULL, "team@example.test", 10, &x) == EXPAND_OK);
	CHECK(x.n == 2 && has_box("alice@example.test", "") && has_box("bob@example.test", ""));
	CHECK(x.box[0].quota == 1000 || x.box[1].quota == 1000);
	/* An alias that includes its own mailbox. */
	CHECK(resolve_expand(db, NULL, "alice@example.test", 10, &x) == EXPAND_OK);
	CHECK(x.n == 2 && has_box("alice@example.test", "") && has_box("bob@example.test", ""));
	/* Detail carries over through aliases. */
	CHECK(resolve_expand(db, NULL, "info+x@example.test", 10, &x) == EXPAND_OK);
	CHECK(has_box("bob@example.test", "x"));
	CHECK(resolve_expand(db, NULL, "loop1@example.test", 10, &x) == EXPAND_LOOP);
	CHECK(resolve_expand(db, NULL, "deep0@example.test", 10, &x) == EXPAND_LOOP);
	CHECK(resolve_expand(db, NULL, "deep5@example.test", 10, &x) == EXPAND_OK);
	CHECK(resolve_expand(db, NULL, "deep0@example.test", 20, &x) == EXPAND_OK);
	CHECK(resolve_expand(db, NULL, "nobody@example.test", 10, &x) == EXPAND_UNKNOWN);
	CHECK(resolve_expand(db, NULL, "ghost@example.test", 10, &x) == EXPAND_UNKNOWN);
	/* Remote targets are forwarding addresses, without the +detail. */
	CHECK(resolve_expand(db, NULL, "fwd+x@example.test", 10, &x) == EXPAND_OK);
	CHECK(x.n == 1 && x.remote == 1 && x.box[0].remote);
	CHECK(resolve_expand(db, NULL, "mixed@example.test", 10, &x) == EXPAND_OK);
	CHECK(x.n == 2 && x.remote == 1 && has_box("bob@example.test", ""));
	CHECK(!x.box[0].remote || !x.box[1].remote);
	/* Catch-all and domain alias. */
	CHECK(resolve_expand(db, NULL, "whoever+d@catch.test", 10, &x) == EXPAND_OK);
	CHECK(x.n == 1 && has_box("postmaster@catch.test", "d"));
	CHECK(resolve_expand(db, NULL, "bob@alias.test", 10, &x) == EXPAND_OK);
	CHECK(x.n == 1 && has_box("bob@example.test", ""));
	CHECK(resolve_expand(db, NULL, "nobody@alias.test", 10, &x) == EXPAND_UNKNOWN);
	CHECK(resolve_expand(db, NULL, "bad address", 10, &x) == EXPAND_UNKNOWN);
}

/* A site of several hosts: a user whose mailbox host is another host is
 * accepted (RCPT_RELAY) and, reached through an alias, forwarded there with
 * its +detail instead of being stored here. */
static void test_site(void)
{
	char why[256];
	struct userdb_user u = { .quota = 0 };
	strlcpy_t(u.host, "mb2", sizeof u.host);
	CHECK(userdb_user_add(dbpath, "carol@example.test", "pw", &u, why, sizeof why) == 0);
	CHECK(userdb_alias_add(dbpath, "crew@example.test", "alice@example.test,carol@example.test",
			       why, sizeof why) == 0);
	struct site s = { .role = SITE_MAILBOX };
	strlcpy_t(s.self, "mb1", sizeof s.self);
	char host[USERDB_MAX_HOST + 1] = "junk";
	CHECK(resolve_rcpt(db, &s, "carol@example.test", host) == RCPT_RELAY);
	CHECK(!strcmp(host, "mb2"));	/* the queue relays it there */
	CHECK(resolve_rcpt(db, &s, "Carol+x@example.test", NULL) == RCPT_RELAY);
	CHECK(resolve_rcpt(db, &s, "alice@example.test", NULL) == RCPT_LOCAL);	/* no host: here */
	CHECK(resolve_rcpt(db, &s, "crew@example.test", NULL) == RCPT_LOCAL);	/* expanded here */
	CHECK(resolve_rcpt(db, NULL, "carol@example.test", NULL) == RCPT_LOCAL);	/* one host */
	CHECK(resolve_expand(db, &s, "crew+x@example.test", 10, &x) == EXPAND_OK);
	CHECK(x.remote == 1 && has_box("alice@example.test", "x"));	/* and bob, alice's alias */
	CHECK(has_box("carol+x@example.test", ""));
	CHECK(resolve_expand(db, NULL, "crew@example.test", 10, &x) == EXPAND_OK);
	CHECK(x.remote == 0 && has_box("carol@example.test", ""));
	/* This host named: stored here; on a front-end nobody is. */
	strlcpy_t(s.self, "mb2", sizeof s.self);
	CHECK(resolve_rcpt(db, &s, "carol@example.test", NULL) == RCPT_LOCAL);
	s.role = SITE_FRONTEND;
	CHECK(resolve_rcpt(db, &s, "carol@example.test", NULL) == RCPT_RELAY);
	CHECK(resolve_rcpt(db, &s, "alice@example.test", host) == RCPT_RELAY);
	CHECK(host[0] == '\0');	/* no mailbox host: a front-end has nowhere for it */
	CHECK(resolve_rcpt(db, &s, "x@remote.test", NULL) == RCPT_REMOTE);
}

static void test_sender(void)
{
	CHECK(resolve_sender(db, "alice@example.test", "alice@example.test") == 1);
	CHECK(resolve_sender(db, "alice@example.test", "Alice+x@example.test") == 1);
	CHECK(resolve_sender(db, "alice@example.test", "info@example.test") == 1);
	CHECK(resolve_sender(db, "alice@example.test", "team@example.test") == 1);
	CHECK(resolve_sender(db, "alice@example.test", "bob@example.test") == 0);
	CHECK(resolve_sender(db, "bob@example.test", "alice@example.test") == 1);	/* alice's alias includes bob */
	CHECK(resolve_sender(db, "postmaster@catch.test", "random@catch.test") == 0);	/* not via catch-all */
	CHECK(resolve_sender(db, "alice@example.test", "x@remote.test") == 0);
	CHECK(resolve_sender(db, "alice@example.test", "") == 0);
	CHECK(resolve_sender(db, "", "alice@example.test") == 0);
	CHECK(resolve_sender(db, "alice@example.test", "loop1@example.test") == 0);
}

static bool listed(char (*a)[USERDB_MAX_ADDR], int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(a[i], s))
			return true;
	return false;
}

/* The reverse of the sender check: each address listed is one
 * resolve_sender accepts, and none it accepts is missing. */
static void test_addresses(void)
{
	static char a[64][USERDB_MAX_ADDR];
	int n = resolve_addresses(db, "Alice@Example.test", a, 64);
	CHECK(n == 3 && !strcmp(a[0], "alice@example.test"));
	CHECK(listed(a, n, "info@example.test") && listed(a, n, "team@example.test"));
	n = resolve_addresses(db, "bob@example.test", a, 64);
	CHECK(n > 4 && !strcmp(a[0], "bob@example.test"));
	CHECK(listed(a, n, "alice@example.test") && listed(a, n, "mixed@example.test"));
	CHECK(!listed(a, n, "fwd@example.test") && !listed(a, n, "loop1@example.test"));
	CHECK(!listed(a, n, "@alias.test") && !listed(a, n, "ghost@example.test"));
	for (int i = 0; i < n; i++)
		CHECK(resolve_sender(db, "bob@example.test", a[i]) == 1);
	CHECK(listed(a, n, "deep9@example.test") == (resolve_sender(db, "bob@example.test",
								  "deep9@example.test") == 1));
	CHECK(resolve_addresses(db, "bob@example.test", a, 2) == 2);
	CHECK(resolve_addresses(db, "nobody@example.test", a, 64) == 0);
	CHECK(resolve_addresses(db, "", a, 64) == 0);
	n = resolve_addresses(db, "postmaster@catch.test", a, 64);
	CHECK(n == 1);	/* the catch-all is not an address of its target */
}

int main(void)
{
	char *d = xasprintf("%s/db", check_tmpdir());
	dbpath = d;
	setup();
	db = open_bdb(d);
	test_rcpt();
	test_expand();
	test_sender();
	test_addresses();
	test_site();
	/* An unreadable database is a temporary failure, never "unknown". */
	char *bad = xasprintf("%s/bad", check_tmpdir());
	mkdir_p(bad, 0700);
	char *p = xasprintf("%s/domains.db", bad);
	FILE *f = fopen(p, "w");
	fputs("garbage", f);
	fclose(f);
	struct directory *bd = open_bdb(bad);
	CHECK(resolve_rcpt(bd, NULL, "a@example.test", NULL) == RCPT_TEMPFAIL);
	CHECK(resolve_expand(bd, NULL, "a@example.test", 10, &x) == EXPAND_TEMPFAIL);
	CHECK(resolve_sender(bd, "a@example.test", "b@example.test") == -1);
	static char a[4][USERDB_MAX_ADDR];
	CHECK(resolve_addresses(bd, "a@example.test", a, 4) == -1);
	dir_close(bd);
	dir_close(db);
	free(p);
	free(bad);
	free(d);
	return check_summary("resolve");
}
