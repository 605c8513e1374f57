/* queue_admin.h — one administration request to the running queued
 * (QUEUE_ADMIN_REQ over RUN/queue.sock), its answer line by line. */
#ifndef TERN_MAILCTL_QUEUE_ADMIN_H
#define TERN_MAILCTL_QUEUE_ADMIN_H

#include <stdbool.h>

struct instance;

/* Send cmd (list, show, flush, ...) with arg ("" for none) and call fn for
 * each line of the answer (ok false: an error line). 0 when queued answered
 * OK, 1 when it refused, -1 when it could not be asked (an error printed). */
int queue_admin_each(const struct instance *in, const char *cmd, const char *arg,
		     void (*fn)(const char *line, bool ok, void *arg), void *fnarg);

/* Is this line of `queue list` ("ID SIZE AGE <SENDER> RCPT,... STATE NEXT")
 * a message being routed or delivered now (state active) with address
 * (local@domain, lower case) or one of its +detail forms among the
 * recipients? Lines of another shape are not. */
bool queue_list_active_for(const char *line, const char *address);

#endif
