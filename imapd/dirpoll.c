/* dirpoll.c — mtime polling for sessions without inotify (see dirpoll.h). */
#include "imapd/dirpoll.h"
#include "common/util.h"

#include <stdlib.h>
#include <sys/stat.h>

bool dirpoll_changed(const char *path, struct timespec *seen)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct stat st;
	struct timespec m = stat(path, &st) == 0 ? st.st_mtim : (struct timespec){ 0, 0 };
	bool changed = m.tv_sec != seen->tv_sec || m.tv_nsec != seen->tv_nsec ||
		       (m.tv_sec && now.tv_sec - m.tv_sec < DIRPOLL_RACY_SECS);
	*seen = m;
	return changed;
}

bool dirpoll_folder_changed(const char *dir, struct timespec seen[2])
{
	bool changed = false;
	for (int i = 0; i < 2; i++) {
		char *p = xasprintf("%s/%s", dir, i ? "cur" : "new");
		changed |= dirpoll_changed(p, &seen[i]);
		free(p);
	}
	return changed;
}
