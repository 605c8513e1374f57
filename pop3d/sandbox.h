/* sandbox.h — confining a POP3 session process to one Maildir.
 *
 * With Landlock (Linux 5.13+), the process can afterwards open, list, create,
 * rename and remove files only beneath that directory: no other file of the
 * system can be read or written (not other mailboxes, not the config), and
 * executing anything is refused. From Landlock ABI 4 it can neither bind nor
 * connect TCP sockets, from ABI 6 neither signal processes outside its
 * domain nor reach abstract Unix sockets. Independently of Landlock it cannot
 * gain privileges (no_new_privs) or fork (RLIMIT_NPROC 0), and dumps no core. */
#ifndef TERN_POP3D_SANDBOX_H
#define TERN_POP3D_SANDBOX_H

#include <stddef.h>

/* Returns the Landlock ABI enforced (>= 1), 0 if the kernel has none, -1 on
 * failure to apply it (the caller refuses the session). */
int sandbox_maildir(int dirfd);

#endif
