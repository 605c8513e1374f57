/* penalty_store.c — write and read the failed-login state file. */
#include "authd/penalty_store.h"
#include "authd/authd.h"
#include "authd/ratelimit.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SAVE_DELAY_MS 1000
#define LINE_MAX_LEN 256

static char *path, *tmp_path;
static struct event *timer;
static bool dirty, retired;

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void load(void)
{
	FILE *f = fopen(path, "re");
	char line[LINE_MAX_LEN];
	unsigned bad = 0, n = 0;
	if (!f) {
		if (errno != ENOENT)
			log_warn("cannot read %s: %s; failure counts start empty", path, strerror(errno));
		return;
	}
	uint64_t mono = now_ms(), wall = wall_ms();
	while (fgets(line, sizeof line, f)) {
		bool ok = line[0] == 'c' ? rl_load_line(authd.rl, line, 'c', mono, wall)
					 : rl_load_line(authd.rl_users, line, 'u', mono, wall);
		ok ? n++ : bad++;
	}
	fclose(f);
	log_info("failure counts read from %s: %u entries%s", path, n, bad ? " (bad lines skipped)" : "");
}

void penalty_store_flush(void)
{
	if (!dirty || retired || !path)
		return;
	dirty = false;
	FILE *f = fopen(tmp_path, "we");
	if (!f) {
		/* Said once: the counts still work, they just start empty after a restart. */
		log_warn("cannot write %s: %s; failure counts will not survive a restart "
			 "(db_dir must belong to the auth account, as mailctl init makes it)",
			 tmp_path, strerror(errno));
		retired = true;
		return;
	}
	uint64_t mono = now_ms(), wall = wall_ms();
	rl_save(authd.rl, f, 'c', mono, wall);
	rl_save(authd.rl_users, f, 'u', mono, wall);
	if (fclose(f) != 0 || rename(tmp_path, path) < 0) {
		log_warn("cannot write %s: %s", path, strerror(errno));
		unlink(tmp_path);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	penalty_store_flush();
}

void penalty_store_open(const char *db_dir)
{
	const char *sep = db_dir[strlen(db_dir) - 1] == '/' ? "" : "/";
	path = xasprintf("%s%s%s", db_dir, sep, PENALTY_FILE);
	tmp_path = xasprintf("%s.tmp", path);
	timer = evtimer_new(authd.base, on_timer, NULL);
	if (!timer)
		fatal("cannot make the failure-count timer");
	load();
}

void penalty_store_changed(void)
{
	if (retired || !timer)
		return;
	dirty = true;
	if (!evtimer_pending(timer, NULL)) {
		struct timeval tv = { SAVE_DELAY_MS / 1000, (SAVE_DELAY_MS % 1000) * 1000 };
		evtimer_add(timer, &tv);
	}
}

void penalty_store_retire(void)
{
	retired = true;
}
