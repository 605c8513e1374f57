/* fuzz_sts.c — libFuzzer target for what the MTA-STS fetcher reads from the
 * network (common/sts_policy.c): the policy file as an HTTPS body, the TXT
 * record, and MX matching against what was parsed. A parsed policy must be
 * internally consistent: patterns lower case and bounded, max_age in range,
 * enforce/testing only with at least one mx. */
#include "common/sts_policy.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_policy p;
	char why[200], id[STS_ID_MAX + 1];
	if (sts_policy_parse((const char *)data, size, &p, why, sizeof why)) {
		if (p.max_age > STS_MAX_AGE_MAX || p.nmx > STS_MX_MAX ||
		    (p.mode != STS_NONE && p.nmx == 0))
			abort();
		for (size_t i = 0; i < p.nmx; i++) {
			size_t n = strnlen(p.mx[i], sizeof p.mx[i]);
			if (n == 0 || n >= sizeof p.mx[i])
				abort();
			for (size_t k = 0; k < n; k++)
				if (isupper((unsigned char)p.mx[i][k]))
					abort();
			/* a literal pattern matches itself */
			if (strncmp(p.mx[i], "*.", 2) && !sts_mx_match(&p, p.mx[i]))
				abort();
		}
	}
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (sts_txt_parse(s, id) && (strlen(id) == 0 || strlen(id) > STS_ID_MAX))
		abort();
	if (size < 300)
		sts_mx_match(&p, s);
	free(s);
	return 0;
}
