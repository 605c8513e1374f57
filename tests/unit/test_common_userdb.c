/* Unit tests: user database (names, domains, users, passwords, aliases). */
#include "common/userdb.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void count_cb(const char *a, void *arg) { (*(int *)arg)++; }
static void count_user(const char *a, const struct userdb_user *u, void *arg) { (*(int *)arg)++; }

static const struct userdb_user *quota(uint64_t q)
{
	static struct userdb_user u;
	u.quota = q;
	return &u;
}
static void count_alias(const char *k, const char *t, void *arg) { (*(int *)arg)++; }

static void test_names(void)
{
	char out[USERDB_MAX_ADDR], base[USERDB_MAX_ADDR], detail[64];
	CHECK(userdb_norm_address("Alice@Example.TEST", out));
	CHECK_STR(out, "alice@example.test");
	CHECK(!userdb_norm_address("alice", out));
	CHECK(!userdb_norm_address("@example.test", out));
	CHECK(!userdb_norm_address("alice@", out));
	CHECK(!userdb_norm_address("a/b@example.test", out));	/* path separator */
	CHECK(!userdb_norm_address("..@example.test", out));
	CHECK(!userdb_norm_address(".a@example.test", out));
	CHECK(!userdb_norm_address("a..b@example.test", out));
	CHECK(!userdb_norm_address("a b@example.test", out));
	CHECK(!userdb_norm_address("a@exa_mple.test", out));
	CHECK(!userdb_norm_address("a@-x.test", out));
	CHECK(!userdb_norm_address("a@x..test", out));
	CHECK(!userdb_norm_address("a@x.test.", out));
	CHECK(!userdb_norm_address("a\n@x.test", out));
	char longl[100];
	memset(longl, 'a', 65);
	strcpy(longl + 65, "@x.test");
	CHECK(!userdb_norm_address(longl, out));
	char longd[400];
	memset(longd, 'a', 300);
	strcpy(longd + 300, ".test");
	CHECK(!userdb_norm_domain(longd, out));
	CHECK(userdb_norm_alias_key("@Example.Test", out));
	CHECK_STR(out, "@example.test");
	CHECK(!userdb_norm_alias_key("@", out));
	userdb_split_detail("bob+lists@x.test", base, detail, sizeof detail);
	CHECK_STR(base, "bob@x.test");
	CHECK_STR(detail, "lists");
	userdb_split_detail("bob@x.test", base, detail, sizeof detail);
	CHECK_STR(base, "bob@x.test");
	CHECK_STR(detail, "");
	userdb_split_detail("+x@x.test", base, detail, sizeof detail);
	CHECK_STR(base, "+x@x.test");
	userdb_split_detail("first.+x@x.test", base, detail, sizeof detail);	/* fuzzer find */
	CHECK_STR(base, "first.+x@x.test");
	CHECK_STR(detail, "");
}

static void test_domains(const char *db)
{
	char why[256];
	int n = 0;
	CHECK(userdb_domain_exists(db, "example.test") == 0);	/* no database yet */
	CHECK(userdb_domain_list(db, count_cb, &n) == 0 && n == 0);
	CHECK(userdb_domain_add(db, "Example.Test", why, sizeof why) == 0);
	CHECK(userdb_domain_add(db, "example.test", why, sizeof why) == 0);	/* idempotent */
	CHECK(userdb_domain_add(db, "other.test", why, sizeof why) == 0);
	CHECK(userdb_domain_add(db, "bad domain", why, sizeof why) == -1);
	CHECK(strstr(why, "not a valid domain") != NULL);
	CHECK(userdb_domain_exists(db, "example.test") == 1);
	n = 0;
	CHECK(userdb_domain_list(db, count_cb, &n) == 0 && n == 2);
	CHECK(userdb_domain_del(db, "nosuch.test", why, sizeof why) == -1);
	CHECK(userdb_domain_del(db, "other.test", why, sizeof why) == 0);
	CHECK(userdb_domain_exists(db, "other.test") == 0);
}

static void test_users(const char *db)
{
	char why[256];
	struct userdb_user e = { .quota = 99 };
	CHECK(userdb_user_add(db, "alice@nosuch.test", "pw", quota(0), why, sizeof why) == -1);
	CHECK(strstr(why, "not a local domain") != NULL);
	CHECK(userdb_user_add(db, "a+b@example.test", "pw", quota(0), why, sizeof why) == -1);
	CHECK(userdb_user_add(db, "alice@example.test", "", quota(0), why, sizeof why) == -1);
	CHECK(userdb_user_add(db, "Alice@example.test", "s3cret", quota(0), why, sizeof why) == 0);
	CHECK(userdb_user_add(db, "alice@example.test", "again", quota(0), why, sizeof why) == -1);
	CHECK(strstr(why, "already exists") != NULL);
	CHECK(userdb_user_get(db, "alice@example.test", &e) == 1 && e.quota == 0 && !e.host[0]);
	CHECK(userdb_user_get(db, "bob@example.test", &e) == 0);
	CHECK(userdb_check_password(db, "alice@example.test", "s3cret") == 1);
	CHECK(userdb_check_password(db, "ALICE@example.test", "s3cret") == 1);
	CHECK(userdb_check_password(db, "alice@example.test", "wrong") == 0);
	CHECK(userdb_check_password(db, "alice@example.test", "") == 0);
	CHECK(userdb_check_password(db, "bob@example.test", "s3cret") == 0);
	CHECK(userdb_check_password(db, "not an address", "s3cret") == 0);
	CHECK(userdb_user_set_quota(db, "alice@example.test", 1048576, why, sizeof why) == 0);
	CHECK(userdb_user_get(db, "alice@example.test", &e) == 1 && e.quota == 1048576);
	CHECK(userdb_user_passwd(db, "alice@example.test", "n3w", why, sizeof why) == 0);
	CHECK(userdb_check_password(db, "alice@example.test", "s3cret") == 0);
	CHECK(userdb_check_password(db, "alice@example.test", "n3w") == 1);
	CHECK(userdb_user_get(db, "alice@example.test", &e) == 1 && e.quota == 1048576);	/* kept */
	CHECK(userdb_user_passwd(db, "bob@example.test", "x", why, sizeof why) == -1);
	CHECK(userdb_user_set_quota(db, "bob@example.test", 1, why, sizeof why) == -1);

	/* The password is never stored in clear; the hash is yescrypt. */
	char *p = xasprintf("%s/users.db", db);
	FILE *f = fopen(p, "rb");
	char buf[65536];
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	CHECK(n > 0 && memmem(buf, n, "n3w", 3) == NULL && memmem(buf, n, "$y$", 3) != NULL);
	free(p);

	CHECK(userdb_user_add(db, "bob@example.test", "pw", quota(5), why, sizeof why) == 0);
	int cnt = 0;
	CHECK(userdb_user_list(db, NULL, count_user, &cnt) == 0 && cnt == 2);
	cnt = 0;
	CHECK(userdb_user_list(db, "other.test", count_user, &cnt) == 0 && cnt == 0);
	CHECK(userdb_domain_del(db, "example.test", why, sizeof why) == -1);	/* has users */
	CHECK(strstr(why, "delete them first") != NULL);
	CHECK(userdb_user_del(db, "bob@example.test", why, sizeof why) == 0);
	CHECK(userdb_user_del(db, "bob@example.test", why, sizeof why) == -1);
	CHECK(userdb_check_password(db, "bob@example.test", "pw") == 0);
}

static void test_aliases(const char *db)
{
	char why[256];
	char *t = NULL;
	int cnt = 0;
	CHECK(userdb_alias_add(db, "info@example.test", "alice@example.test, bob@example.test",
			       why, sizeof why) == 0);
	CHECK(userdb_alias_add(db, "info@example.test", "bob@example.test,carol@remote.test",
			       why, sizeof why) == 0);
	CHECK(userdb_alias_get(db, "info@example.test", &t) == 1);
	CHECK_STR(t, "alice@example.test,bob@example.test,carol@remote.test");
	free(t);
	CHECK(userdb_alias_add(db, "x@nosuch.test", "alice@example.test", why, sizeof why) == -1);
	CHECK(userdb_alias_add(db, "x@example.test", "not an address", why, sizeof why) == -1);
	CHECK(userdb_alias_add(db, "x@example.test", " , ", why, sizeof why) == -1);
	CHECK(userdb_alias_add(db, "@example.test", "alice@example.test", why, sizeof why) == 0);
	CHECK(userdb_alias_list(db, NULL, count_alias, &cnt) == 0 && cnt == 2);
	CHECK(userdb_alias_del(db, "info@example.test", "bob@example.test", why, sizeof why) == 0);
	t = NULL;
	CHECK(userdb_alias_get(db, "info@example.test", &t) == 1);
	CHECK_STR(t, "alice@example.test,carol@remote.test");
	free(t);
	CHECK(userdb_alias_del(db, "info@example.test", NULL, why, sizeof why) == 0);
	CHECK(userdb_alias_get(db, "info@example.test", &t) == 0);
	CHECK(userdb_alias_del(db, "info@example.test", NULL, why, sizeof why) == -1);
	CHECK(userdb_alias_del(db, "@example.test", "alice@example.test", why, sizeof why) == 0);
	CHECK(userdb_alias_get(db, "@example.test", &t) == 0);	/* emptied -> gone */

	/* Too many targets. */
	char *big = xstrdup("");
	for (int i = 0; i <= USERDB_MAX_TARGETS; i++) {
		char *nb = xasprintf("%s%su%d@example.test", big, i ? "," : "", i);
		free(big);
		big = nb;
	}
	CHECK(userdb_alias_add(db, "big@example.test", big, why, sizeof why) == -1);
	CHECK(strstr(why, "too many") != NULL);
	free(big);
}

static void test_corrupt(void)
{
	char *dir = xasprintf("%s/corrupt", check_tmpdir());
	char *p = xasprintf("%s/users.db", dir);
	mkdir_p(dir, 0700);
	FILE *f = fopen(p, "w");
	fputs("this is not a berkeley db file", f);
	fclose(f);
	CHECK(userdb_user_get(dir, "a@b.test", NULL) == -1);
	CHECK(userdb_check_password(dir, "a@b.test", "x") == -1);
	free(p);
	free(dir);
}

struct hashes {
	int n;
	char addr[4][USERDB_MAX_ADDR];
	char hash[4][USERDB_MAX_HASH + 1];
	struct userdb_user u[4];
};

static void keep_hash(const char *a, const struct userdb_user *u, const char *hash, void *arg)
{
	struct hashes *h = arg;
	if (h->n == 4)
		return;
	strlcpy_t(h->addr[h->n], a, sizeof h->addr[0]);
	strlcpy_t(h->hash[h->n], hash, sizeof h->hash[0]);
	h->u[h->n++] = *u;
}

/* The mailbox host of a user, and what export/import moves (hash included). */
static void test_host_and_hashes(void)
{
	char why[256], h[USERDB_MAX_HOST + 1];
	char *db = xasprintf("%s/hostdb", check_tmpdir());
	struct userdb_user e, want = { .quota = 7 };
	CHECK(userdb_norm_host("MB1.Example.TEST", h));
	CHECK_STR(h, "mb1.example.test");
	CHECK(userdb_norm_host("10.0.0.5", h) && !strcmp(h, "10.0.0.5"));
	CHECK(userdb_norm_host("fd00::5", h) && !strcmp(h, "fd00::5"));
	CHECK(userdb_norm_host("", h) && !h[0]);
	CHECK(!userdb_norm_host("mb1 example", h));
	CHECK(!userdb_norm_host("mb1\t", h));
	CHECK(userdb_domain_add(db, "example.test", why, sizeof why) == 0);
	strlcpy_t(want.host, "mb1.example.test", sizeof want.host);
	CHECK(userdb_user_add(db, "carol@example.test", "pw", &want, why, sizeof why) == 0);
	CHECK(userdb_user_get(db, "carol@example.test", &e) == 1 && e.quota == 7);
	CHECK_STR(e.host, "mb1.example.test");
	/* A new password or quota keeps the host; a new host keeps the rest. */
	CHECK(userdb_user_passwd(db, "carol@example.test", "pw2", why, sizeof why) == 0);
	CHECK(userdb_user_set_quota(db, "carol@example.test", 9, why, sizeof why) == 0);
	CHECK(userdb_user_get(db, "carol@example.test", &e) == 1 && e.quota == 9);
	CHECK_STR(e.host, "mb1.example.test");
	CHECK(userdb_user_set_host(db, "carol@example.test", "10.0.0.6", why, sizeof why) == 0);
	CHECK(userdb_user_get(db, "carol@example.test", &e) == 1 && e.quota == 9);
	CHECK_STR(e.host, "10.0.0.6");
	CHECK(userdb_check_password(db, "carol@example.test", "pw2") == 1);
	CHECK(userdb_user_set_host(db, "carol@example.test", "not a host", why, sizeof why) == -1);
	CHECK(userdb_user_set_host(db, "nobody@example.test", "", why, sizeof why) == -1);
	CHECK(strstr(why, "no such user") != NULL);
	CHECK(userdb_user_set_host(db, "carol@example.test", "", why, sizeof why) == 0);
	CHECK(userdb_user_get(db, "carol@example.test", &e) == 1 && !e.host[0]);
	CHECK(userdb_user_set_host(db, "carol@example.test", "mb2.example.test", why, sizeof why) == 0);

	/* Export: the hash as stored; import into another database: same login. */
	struct hashes x = { 0 };
	CHECK(userdb_user_list_hashes(db, keep_hash, &x) == 0 && x.n == 1);
	CHECK_STR(x.addr[0], "carol@example.test");
	CHECK(!strncmp(x.hash[0], "$y$", 3));
	CHECK_STR(x.u[0].host, "mb2.example.test");
	char *db2 = xasprintf("%s/hostdb2", check_tmpdir());
	CHECK(userdb_user_put_hash(db2, x.addr[0], &x.u[0], x.hash[0], why, sizeof why) == -1);
	CHECK(strstr(why, "not a local domain") != NULL);
	CHECK(userdb_domain_add(db2, "example.test", why, sizeof why) == 0);
	CHECK(userdb_user_put_hash(db2, x.addr[0], &x.u[0], "bad hash", why, sizeof why) == -1);
	CHECK(userdb_user_put_hash(db2, x.addr[0], &x.u[0], x.hash[0], why, sizeof why) == 0);
	CHECK(userdb_user_put_hash(db2, x.addr[0], &x.u[0], x.hash[0], why, sizeof why) == 0);	/* replaces */
	CHECK(userdb_check_password(db2, "carol@example.test", "pw2") == 1);
	CHECK(userdb_user_get(db2, "carol@example.test", &e) == 1 && e.quota == 9);
	CHECK_STR(e.host, "mb2.example.test");
	CHECK(userdb_alias_put(db2, "all@example.test", "carol@example.test, x@remote.test", why, sizeof why) == 0);
	CHECK(userdb_alias_put(db2, "all@example.test", "carol@example.test", why, sizeof why) == 0);
	char *t = NULL;
	CHECK(userdb_alias_get(db2, "all@example.test", &t) == 1);
	CHECK_STR(t, "carol@example.test");
	free(t);
	CHECK(userdb_alias_put(db2, "all@example.test", "", why, sizeof why) == -1);
	free(db2);
	free(db);
}

static void test_alias_merge(void)
{
	char why[256], *out = NULL;
	CHECK(userdb_alias_merge("a@x.test,b@x.test", "B@x.test, c@y.test", NULL, &out, why, sizeof why) == 0);
	CHECK_STR(out, "a@x.test,b@x.test,c@y.test");
	free(out);
	CHECK(userdb_alias_merge("a@x.test,b@x.test", NULL, "a@x.test", &out, why, sizeof why) == 0);
	CHECK_STR(out, "b@x.test");
	free(out);
	CHECK(userdb_alias_merge("a@x.test,b@x.test", NULL, "", &out, why, sizeof why) == 0);
	CHECK_STR(out, "");
	free(out);
	CHECK(userdb_alias_merge(NULL, "@other.test", NULL, &out, why, sizeof why) == 0);
	CHECK_STR(out, "@other.test");
	free(out);
	CHECK(userdb_alias_merge(NULL, "not valid", NULL, &out, why, sizeof why) == -1);
	CHECK(out == NULL);
}

int main(void)
{
	char *db = xasprintf("%s/db", check_tmpdir());
	test_names();
	test_domains(db);
	test_users(db);
	test_aliases(db);
	test_corrupt();
	test_host_and_hashes();
	test_alias_merge();
	free(db);
	return check_summary("userdb");
}
