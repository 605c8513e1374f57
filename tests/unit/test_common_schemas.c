/* Unit tests: every program's config schema is well formed. Each default passes
 * its own key's checks, every number declares a range that holds its default,
 * old names lead to keys that exist, no name is declared twice, and the limits
 * the protocols share have one name. */
#include "common/config.h"
#include "common/instance.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <string.h>

/* Declared in each program's own header; those headers do not mix. */
extern const struct cfg_key smtpd_settings[], pop3d_settings[], imapd_settings[],
	authd_settings[], queued_settings[], deliverd_settings[], httpd_settings[];

static const struct {
	const char *file;
	const struct cfg_key *schema;
} schemas[] = {
	{ "tern.conf", tern_settings },	      { "smtpd.conf", smtpd_settings },
	{ "pop3d.conf", pop3d_settings },     { "imapd.conf", imapd_settings },
	{ "authd.conf", authd_settings },     { "queued.conf", queued_settings },
	{ "deliverd.conf", deliverd_settings }, { "httpd.conf", httpd_settings },
};

static bool numeric(const struct cfg_key *k)
{
	return k->type == CFG_INT || k->type == CFG_SIZE || k->type == CFG_TIME || k->type == CFG_MSEC;
}

static void check_key(const char *file, const struct cfg_key *schema, const struct cfg_key *k)
{
	char why[512];
	const struct cfg_key *first = cfg_schema_find(schema, k->name);
	if (first != k)
		fprintf(stderr, "%s: %s declared twice\n", file, k->name);
	CHECK(first == k);
	if (k->new_name) {
		const struct cfg_key *to = cfg_schema_find(schema, k->new_name);
		CHECK(to && !to->new_name);
		return;
	}
	CHECK(k->doc && *k->doc);
	bool ok = cfg_check_value(k, k->def, why, sizeof why);
	if (!ok)
		fprintf(stderr, "%s: default of %s: %s\n", file, k->name, why);
	CHECK(ok);
	if (numeric(k)) {
		CHECK(k->max > 0 && k->min <= k->max);
		if (!(k->max > 0 && k->min <= k->max))
			fprintf(stderr, "%s: %s declares no range\n", file, k->name);
	}
	if (k->at_least)
		CHECK(cfg_schema_find(schema, k->at_least) != NULL);
}

static void test_schemas(void)
{
	for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++)
		for (const struct cfg_key *k = schemas[i].schema; k->name; k++)
			check_key(schemas[i].file, schemas[i].schema, k);
}

/* The names the issue found three ways: one name now, the old ones read. */
static void test_shared_names(void)
{
	static const char *const shared[] = { "max_command_line", "plaintext_auth_networks" };
	static const char *const old[] = { "max_command_length", "max_line", "plaintext_loopback",
					   "plaintext_login", "plaintext_auth_loopback",
					   "max_login_clients" };
	const struct cfg_key *login[] = { smtpd_settings, pop3d_settings, imapd_settings };
	for (size_t i = 0; i < 3; i++) {
		for (size_t j = 0; j < 2; j++) {
			const struct cfg_key *k = cfg_schema_find(login[i], shared[j]);
			CHECK(k && !k->new_name);
		}
		CHECK(cfg_schema_find(login[i], "max_sessions") != NULL);
	}
	for (size_t j = 0; j < sizeof old / sizeof old[0]; j++) {
		int found = 0;
		for (size_t i = 0; i < 3; i++) {
			const struct cfg_key *k = cfg_schema_find(login[i], old[j]);
			if (k) {
				CHECK(k->new_name != NULL);
				found++;
			}
		}
		CHECK(found == 1);
	}
}

int main(void)
{
	test_schemas();
	test_shared_names();
	return check_summary("schemas");
}
