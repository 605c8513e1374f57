/* site_status.h — the mailbox hosts of a front-end in `mailctl status`. */
#ifndef TERN_MAILCTL_SITE_STATUS_H
#define TERN_MAILCTL_SITE_STATUS_H

#include <stdio.h>

struct instance;

/* On a front-end (role = frontend), one line per mailbox host:
 *   mailbox-host NAME ADDRESS:PORT answers | down (why)
 * after trying them all at once for at most 3 seconds. Returns how many do
 * not answer (0 on other roles), -1 when the site settings are broken. */
int site_status_print(const struct instance *in, FILE *out);

#endif
