/* userdb.c — placeholder until the auth service lands: keeps init linkable. */
#include "common/userdb.h"

#include <stdio.h>

int userdb_domain_add(const char *db_dir, const char *domain, char *why, size_t whylen)
{
	snprintf(why, whylen, "user database not available in this build");
	return -1;
}
