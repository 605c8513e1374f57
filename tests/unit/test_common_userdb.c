/* Unit tests: user database (names, domains, users, passwords, aliases). */
#include "common/userdb.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void count_cb(const char *a, void *arg) { (*(int *)arg)++; }
static void count_user(const char *a, uint64_t q, void *arg) { (*(int *)arg)++; }
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
	uint64_t q = 99;
	CHECK(userdb_user_add(db, "alice@nosuch.test", "pw", 0, why, sizeof why) == -1);
	CHECK(strstr(why, "not a local domain") != NULL);
	CHECK(userdb_user_add(db, "a+b@example.test", "pw", 0, why, sizeof why) == -1);
	CHECK(userdb_user_add(db, "alice@example.test", "", 0, why, sizeof why) == -1);
	CHECK(userdb_user_add(db, "Alice@example.test", "s3cret", 0, why, sizeof why) == 0);
	CHECK(userdb_user_add(db, "alice@example.test", "again", 0, why, sizeof why) == -1);
	CHECK(strstr(why, "already exists") != NULL);
	CHECK(userdb_user_get(db, "alice@example.test", &q) == 1 && q == 0);
	CHECK(userdb_user_get(db, "bob@example.test", &q) == 0);
	CHECK(userdb_check_password(db, "alice@example.test", "s3cret") == 1);
	CHECK(userdb_check_password(db, "ALICE@example.test", "s3cret") == 1);
	CHECK(userdb_check_password(db, "alice@example.test", "wrong") == 0);
	CHECK(userdb_check_password(db, "alice@example.test", "") == 0);
	CHECK(userdb_check_password(db, "bob@example.test", "s3cret") == 0);
	CHECK(userdb_check_password(db, "not an address", "s3cret") == 0);
	CHECK(userdb_user_set_quota(db, "alice@example.test", 1048576, why, sizeof why) == 0);
	CHECK(userdb_user_get(db, "alice@example.test", &q) == 1 && q == 1048576);
	CHECK(userdb_user_passwd(db, "alice@example.test", "n3w", why, sizeof why) == 0);
	CHECK(userdb_check_password(db, "alice@example.test", "s3cret") == 0);
	CHECK(userdb_check_password(db, "alice@example.test", "n3w") == 1);
	CHECK(userdb_user_get(db, "alice@example.test", &q) == 1 && q == 1048576);	/* kept */
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

	CHECK(userdb_user_add(db, "bob@example.test", "pw", 5, why, sizeof why) == 0);
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

int main(void)
{
	char *db = xasprintf("%s/db", check_tmpdir());
	test_names();
	test_domains(db);
	test_users(db);
	test_aliases(db);
	test_corrupt();
	free(db);
	return check_summary("userdb");
}
