/* mta_sts.c — the MTA-STS policy text and its id (see mta_sts.h). */
#include "common/mta_sts.h"
#include "common/util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

bool mta_sts_enabled(const struct instance *in)
{
	return strcmp(cfg_str(&in->conf, "mta_sts_mode"), "none") != 0;
}

char *mta_sts_policy(const struct instance *in)
{
	const char *mode = cfg_str(&in->conf, "mta_sts_mode");
	uint64_t max_age = cfg_int(&in->conf, "mta_sts_max_age");
	return xasprintf("version: STSv1\nmode: %s\nmx: %s\nmax_age: %llu\n",
			 strcmp(mode, "none") ? mode : "testing", in->hostname,
			 (unsigned long long)max_age);
}

char *mta_sts_id(const char *policy)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char id[33] = "";
	if (EVP_Digest(policy, strlen(policy), md, &mdlen, EVP_sha256(), NULL))
		for (unsigned i = 0; i < 16 && i < mdlen; i++)
			snprintf(id + 2 * i, 3, "%02x", md[i]);
	return xstrdup(id);
}
