/* dirpoll.h — watching directories without inotify. Every session process
 * runs as the mail store account, and the kernel gives a uid a fixed number
 * of inotify instances (fs.inotify.max_user_instances, 128 by default) and
 * watches: past that many watching sessions on the whole server,
 * inotify_init1 or inotify_add_watch fails. Such a session (IDLE, NOTIFY)
 * looks at the mtimes of what it watches every DIRPOLL_MS instead (one stat
 * each; the folder is read only when one moved), so changes reach every
 * client at any number of sessions without the administrator raising a
 * limit. */
#ifndef TERN_IMAPD_DIRPOLL_H
#define TERN_IMAPD_DIRPOLL_H

#include <stdbool.h>
#include <time.h>

#define DIRPOLL_MS 500
/* Two changes within the file system's timestamp granularity may leave one
 * mtime: a directory changed this recently is looked at again at every poll
 * (git's "racy" index entries, the same cure). */
#define DIRPOLL_RACY_SECS 2

/* Has path's mtime moved since *seen, or moved lately? *seen becomes the
 * mtime now (zero when path is gone). */
bool dirpoll_changed(const char *path, struct timespec *seen);
/* The same for DIR/new and DIR/cur (seen[0], seen[1]); both are looked at. */
bool dirpoll_folder_changed(const char *dir, struct timespec seen[2]);

#endif
