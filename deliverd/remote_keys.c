/* remote_keys.c — the DKIM keys of our domains, read once at start from
 * DIR/dkim/DOMAIN/SELECTOR.key (written by `mailctl dkim keygen`). */
#include "deliverd/remote_int.h"
#include "deliverd/deliverd.h"
#include "common/log.h"
#include "common/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KEYS 256

static struct dkim_key keys[MAX_KEYS];
static size_t nkeys;

static void load_domain(const char *dkim_dir, const char *domain, char **sel, size_t nsel)
{
	char *dir = xasprintf("%s/%s", dkim_dir, domain);
	const char *want = deliverd_dkim_selector(domain, sel, nsel);
	DIR *d = opendir(dir);
	struct dirent *e;
	char best[128] = "";
	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".key") || n - 4 >= sizeof best)
			continue;
		char s[128];
		memcpy(s, e->d_name, n - 4);
		s[n - 4] = '\0';
		/* Named selector wins; else the last in name order (newest if dated). */
		if (want ? !strcmp(s, want) : strcmp(s, best) > 0)
			strlcpy_t(best, s, sizeof best);
	}
	if (d)
		closedir(d);
	if (best[0] && nkeys < MAX_KEYS) {
		char why[256], *path = xasprintf("%s/%s.key", dir, best);
		if (dkim_key_load(path, domain, best, &keys[nkeys], why, sizeof why) == 0) {
			log_info("dkim: signing mail of %s with selector %s (%s)", domain, best,
				 keys[nkeys].alg == DKIM_ALG_ED25519 ? "ed25519" : "rsa");
			nkeys++;
		} else {
			log_warn("dkim: %s", why);
		}
		free(path);
	} else if (want) {
		log_warn("dkim: no key %s/%s.key for the selector named in dkim_selectors", dir, want);
	}
	free(dir);
}

void keys_load(const char *dkim_dir, char **sel, size_t nsel)
{
	DIR *d = opendir(dkim_dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			load_domain(dkim_dir, e->d_name, sel, nsel);
	if (d)
		closedir(d);
}

static const struct dkim_key *find_exact(const char *domain)
{
	for (size_t i = 0; i < nkeys; i++)
		if (!strcasecmp(keys[i].domain, domain))
			return &keys[i];
	return NULL;
}

/* The domain's key, else the nearest parent domain's: mail from a host name
 * under one of our domains (the reports from noreply-tlsrpt@HOSTNAME, cron
 * mail) is signed d=DOMAIN, which DMARC's relaxed alignment accepts. A
 * subdomain belongs to its domain's owner, who holds the key. */
const struct dkim_key *keys_find(const char *domain)
{
	for (const char *d = domain; d && *d; ) {
		const struct dkim_key *k = find_exact(d);
		if (k)
			return k;
		d = strchr(d, '.');
		if (d)
			d++;	/* the parent domain */
	}
	return NULL;
}
