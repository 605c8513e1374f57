/* instctl.h — opening an instance for the control commands. */
#ifndef TERN_MAILCTL_INSTCTL_H
#define TERN_MAILCTL_INSTCTL_H

#include "common/instance.h"

/* Load the instance chosen by -c/TERN_CONFIG (dir may be NULL). Config errors
 * other than a missing directory or tern.conf are tolerated here (stop and status
 * must work with a broken config). 0, or -1 after a one-line error. */
int instance_require(const char *dir, struct instance *in);

#endif
