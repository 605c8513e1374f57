/* site_status.h — the mailbox hosts of a front-end in `mailctl status`. */
#ifndef TERN_MAILCTL_SITE_STATUS_H
#define TERN_MAILCTL_SITE_STATUS_H

#include <stdbool.h>
#include <stdio.h>

struct instance;
struct site_host;

/* On a front-end (role = frontend), one line per mailbox host:
 *   mailbox-host NAME ADDRESS:PORT answers | down (why)
 * after trying them all at once for at most 3 seconds. Returns how many do
 * not answer (0 on other roles), -1 when the site settings are broken. */
int site_status_print(const struct instance *in, FILE *out);

/* Probe one mailbox host's internal port the same way (at most 3 seconds):
 * true when it answers; result says "answers" or "down (why)". */
bool site_probe_one(const struct site_host *h, char *result, size_t len);

#endif
