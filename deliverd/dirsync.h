/* dirsync.h — the fsync of a Maildir's new/ after a link, shared by the
 * delivery threads. */
#ifndef TERN_DELIVERD_DIRSYNC_H
#define TERN_DELIVERD_DIRSYNC_H

/* Call after link() into dir returned: 0 once an fsync of dir that began
 * after that link has completed, -1 (errno) if this thread's own fsync of
 * dir failed. Thread-safe. */
int dirsync_after_link(const char *dir);

#endif
