/* mta_sts.h — the MTA-STS policy (RFC 8461) this instance publishes for its
 * domains, from tern.conf (mta_sts_mode, mta_sts_max_age, hostname as the
 * MX): httpd serves it at /.well-known/mta-sts.txt and `mailctl dns` prints
 * it with the id of its TXT record, so both always agree. */
#ifndef TERN_MTA_STS_H
#define TERN_MTA_STS_H

#include "common/instance.h"

#include <stdbool.h>

/* Does tern.conf publish a policy (mta_sts_mode is not "none")? */
bool mta_sts_enabled(const struct instance *in);
/* The policy text (RFC 8461 3.2; mode "testing" when none is set, for
 * showing what would be served), malloc'd. */
char *mta_sts_policy(const struct instance *in);
/* Its id for the _mta-sts TXT record (RFC 8461 3.1: changes exactly when
 * the text does; 32 hex digits), malloc'd. */
char *mta_sts_id(const char *policy);

#endif
