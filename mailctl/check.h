/* check.h — validate an instance: tern.conf plus every daemon's `--check`. Used
 * by `mailctl check`, by `start` (refuses a broken config) and by `reload`. */
#ifndef TERN_MAILCTL_CHECK_H
#define TERN_MAILCTL_CHECK_H

#include "common/config.h"

/* Appends every problem as "file:line: message" (deduplicated) to errs;
 * returns the number of errors found. */
int instance_check(const char *dir, struct cfg_errors *errs);

struct instance;
/* The site settings of tern.conf together (role, mailbox hosts, the pgsql
 * directory): what the schema cannot check key by key (check_site.c). */
void check_site(const struct instance *in, struct cfg_errors *errs);

#endif
