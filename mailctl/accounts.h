/* accounts.h — the system accounts of the suite (common/privdrop.h). */
#ifndef TERN_MAILCTL_ACCOUNTS_H
#define TERN_MAILCTL_ACCOUNTS_H

#include <stddef.h>

/* As root: create every missing account (useradd --system, no login shell, no
 * home). 0, or -1 with a one-line reason. Not root: nothing to do. */
int accounts_ensure(char *why, size_t whylen);

#endif
