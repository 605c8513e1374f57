/* tern-queued — the queue manager (see queued/queued.h for the parts). */
#include "queued/queued.h"
#include "queued/qindex.h"
#include "common/auth_client.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "common/util.h"
#include "common/workq.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct qconf qconf;
struct event_base *qbase;
struct auth_client *qauth;
struct workq *qwork;

static void load_qconf(const struct cfg *c, const struct instance *in)
{
	qconf.min_backoff = cfg_int(c, "minimal_backoff_time");
	qconf.max_backoff = cfg_int(c, "maximal_backoff_time");
	qconf.lifetime = cfg_int(c, "maximal_queue_lifetime");
	qconf.delay_warning = cfg_int(c, "delay_warning_time");
	qconf.minfree = cfg_int(c, "queue_minfree");
	qconf.bounce_size_limit = cfg_int(c, "bounce_size_limit");
	qconf.agent_max_jobs = (unsigned)cfg_int(c, "agent_max_jobs");
	free(qconf.hostname);
	qconf.hostname = xstrdup(in->hostname);
}

static void open_index(void)
{
	char *db = xasprintf("%s/db", spool_dir);
	if (qindex_open(db) == 0) {
		free(db);
		return;
	}
	/* Unusable index: keep it for inspection and rebuild from the spool files. */
	char *aside = xasprintf("%s/db.broken.%lld", spool_dir, (long long)time(NULL));
	log_err("queue index unusable: moved to %s; rebuilding from spool files", aside);
	if (rename(db, aside) < 0 || qindex_open(db) < 0)
		fatal("cannot create a new queue index in %s", db);
	free(aside);
	free(db);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	log_info("stopping");
	event_base_loopbreak(qbase);
}

static char *instance_dir;

/* SIGHUP: re-read tern.conf and queued.conf in place; a bad file keeps the old
 * settings (and says why). Paths and sockets stay as they were at start. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct instance in;
	struct cfg conf;
	struct cfg_errors errs = { 0 };
	int r = instance_load(&in, instance_dir, &errs);
	bool have_conf = r == 0;
	if (have_conf)
		r = instance_conf(&in, "queued", queued_settings, &conf, &errs);
	if (r == 0 && errs.count == 0) {
		load_qconf(&conf, &in);
		reclog_set_max(dmarc_log, cfg_int(&conf, "dmarc_log_max"));
		reclog_set_max(tlsrpt_log, cfg_int(&conf, "tlsrpt_log_max"));
		log_info("configuration reloaded");
		sched_kick_all();
	} else {
		for (int i = 0; i < errs.count; i++)
			log_err("reload: %s", errs.msg[i]);
		log_err("reload failed: keeping the current settings");
	}
	if (have_conf)
		cfg_free(&conf);
	instance_free(&in);
}

static void on_checkpoint(evutil_socket_t fd, short what, void *arg)
{
	qindex_checkpoint();
}

static void prepare_spool(const struct instance *in)
{
	if (mkdir_p(in->spool_dir, 0700) < 0)
		fatal_errno("mkdir %s", in->spool_dir);
	uid_t uid;
	gid_t gid;
	if (running_as_root() && account_ids(ACCT_QUEUED, &uid, &gid) == 0 &&
	    chown(in->spool_dir, uid, gid) < 0)
		fatal_errno("chown %s", in->spool_dir);
	mkdir_p(in->run_dir, 0755);
}

int main(int argc, char **argv)
{
	struct instance in;
	struct cfg conf;
	daemon_init("queued", queued_settings, argc, argv, &in, &conf, NULL);
	load_qconf(&conf, &in);
	prepare_spool(&in);
	char *sock = instance_sock(&in, "queue");
	int lfd = server_bind(sock);
	if (lfd < 0)
		fatal_errno("listen on %s", sock);
	struct stat st;
	unsigned owner = stat(in.dir, &st) == 0 ? st.st_uid : 0;
	privdrop(ACCT_QUEUED, NULL);

	if (spool_init(in.spool_dir) < 0)
		fatal_errno("spool %s", in.spool_dir);
	open_index();
	qbase = event_base_new();
	if (!qbase)
		fatal("event_base_new failed");
	qwork = workq_new(qbase, (int)cfg_int(&conf, "commit_threads"));
	flush_init();
	reclog_init(cfg_int(&conf, "dmarc_log_max"), cfg_int(&conf, "tlsrpt_log_max"));
	char *asock = instance_sock(&in, "auth");
	qauth = auth_client_new(qbase, asock, 30000);
	free(asock);
	sched_init();
	char summary[512];
	store_recover(true, summary, sizeof summary);
	server_start(lfd, owner, daemon_agent_key());

	struct event *sterm = evsignal_new(qbase, SIGTERM, on_term, NULL);
	struct event *sint = evsignal_new(qbase, SIGINT, on_term, NULL);
	event_add(sterm, NULL);
	event_add(sint, NULL);
	struct event *ckpt = event_new(qbase, -1, EV_PERSIST, on_checkpoint, NULL);
	struct timeval tv = { 60, 0 };
	event_add(ckpt, &tv);
	instance_dir = xstrdup(in.dir);
	struct event *shup = evsignal_new(qbase, SIGHUP, on_hup, NULL);
	event_add(shup, NULL);

	/* The spool (files, Berkeley DB environment); its config files for a
	 * reload in place; authd over auth.sock. */
	char *tern_conf = xasprintf("%s/tern.conf", in.dir), *own_conf = xasprintf("%s/queued.conf", in.dir);
	const struct sb_path paths[] = { { in.spool_dir, true }, { tern_conf, false }, { own_conf, false } };
	sandbox_enter("queued", SB_THREADS | SB_ACCEPT | SB_UNIX | SB_FILES, paths, ARRAY_LEN(paths));
	free(tern_conf);
	free(own_conf);
	log_info("serving %s (spool %s)", sock, in.spool_dir);
	daemon_ready();
	sched_kick_all();
	event_base_dispatch(qbase);
	qindex_checkpoint();
	qindex_close();
	free(sock);
	free(instance_dir);
	daemon_done(&in, &conf);
	return 0;
}
