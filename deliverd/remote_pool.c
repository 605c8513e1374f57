/* remote_pool.c — idle SMTP connections kept for reuse (several messages to
 * the same host over one connection) and a cap on concurrent connections per
 * destination domain. Both are shared by the worker threads. */
#include "deliverd/remote_int.h"
#include "common/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_MAX 32
#define DEST_MAX 256

struct idle {
	char key[160];
	struct smtp_client c;
	bool used;
};

static struct idle pool[POOL_MAX];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

/* Close every idle connection older than the reuse time (a worker calls it
 * periodically, so an idle peer is not kept waiting until the next message). */
void pool_expire(void)
{
	struct smtp_client c;
	pool_take("", &c);	/* the empty key matches nothing; stale ones are closed */
}

bool pool_take(const char *key, struct smtp_client *out)
{
	bool found = false;
	struct smtp_client stale[POOL_MAX];
	int nstale = 0;
	time_t now = time(NULL);
	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < POOL_MAX; i++) {
		if (!pool[i].used)
			continue;
		if (now - pool[i].c.last_used > rconf.reuse_time) {
			stale[nstale++] = pool[i].c;
			pool[i].used = false;
		} else if (!found && !strcmp(pool[i].key, key)) {
			*out = pool[i].c;
			pool[i].used = false;
			found = true;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	for (int i = 0; i < nstale; i++)
		sc_close(&stale[i], true);
	return found;
}

void pool_put(const char *key, struct smtp_client *c)
{
	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < POOL_MAX; i++) {
		if (!pool[i].used) {
			strlcpy_t(pool[i].key, key, sizeof pool[i].key);
			pool[i].c = *c;
			pool[i].used = true;
			pthread_mutex_unlock(&pool_lock);
			return;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	sc_close(c, true);
}

struct dest {
	char domain[256];
	unsigned active;
};

static struct dest dests[DEST_MAX];
static pthread_mutex_t dest_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dest_cond = PTHREAD_COND_INITIALIZER;

static struct dest *dest_find(const char *domain, bool create)
{
	struct dest *free_slot = NULL;
	for (int i = 0; i < DEST_MAX; i++) {
		if (dests[i].active && !strcmp(dests[i].domain, domain))
			return &dests[i];
		if (!dests[i].active && !free_slot)
			free_slot = &dests[i];
	}
	if (create && free_slot)
		strlcpy_t(free_slot->domain, domain, sizeof free_slot->domain);
	return create ? free_slot : NULL;
}

void dest_acquire(const char *domain)
{
	pthread_mutex_lock(&dest_lock);
	for (;;) {
		struct dest *d = dest_find(domain, true);
		if (d && d->active < rconf.dest_concurrency) {
			d->active++;
			break;
		}
		pthread_cond_wait(&dest_cond, &dest_lock);
	}
	pthread_mutex_unlock(&dest_lock);
}

void dest_release(const char *domain)
{
	pthread_mutex_lock(&dest_lock);
	struct dest *d = dest_find(domain, false);
	if (d && d->active)
		d->active--;
	pthread_cond_broadcast(&dest_cond);
	pthread_mutex_unlock(&dest_lock);
}
