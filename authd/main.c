/* tern-authd — the auth service: the only process that reads password hashes.
 * Binds RUN/auth.sock, drops to tern-auth chrooted into db_dir, and answers the
 * requests of auth_proto.h (see ARCHITECTURE.md). */
#include "authd/authd.h"
#include "authd/penalty_store.h"
#include "authd/ratelimit.h"
#include "common/daemon.h"
#include "common/directory.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/site.h"
#include "common/sandbox.h"
#include "common/userdb.h"
#include "common/util.h"
#include "common/workq.h"

#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>



static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		/* authd.conf lies outside our chroot, so a reload is a new generation
		 * (procs.c): the master started a new authd with the new settings, and
		 * this one finishes its requests and exits. (The directory needs no
		 * reload: it is read at every request.) */
		penalty_store_retire();
		server_drain();
		return;
	}
	log_info("stopping (signal %d)", (int)sig);
	event_base_loopbreak(authd.base);
}

static void watch_signal(int sig)
{
	struct event *ev = evsignal_new(authd.base, sig, on_signal, NULL);
	if (!ev || event_add(ev, NULL) < 0)
		fatal("cannot handle signal %d", sig);
}

/* Bind under a temporary name and rename it over RUN/auth.sock: the path
 * always leads to a listening authd, the old one until the new one is bound
 * (a reload whose new authd fails early leaves the old one reachable). */
static int open_socket(const struct instance *in)
{
	char *path = instance_sock(in, "auth");
	char *tmp = xasprintf("%s.%d", path, (int)getpid());
	if (mkdir_p(in->run_dir, 0755) < 0)
		fatal_errno("cannot create %s", in->run_dir);
	/* 0666: any local process may connect; the peer's uid decides (peer.c). */
	int fd = ipc_listen(tmp, 0666);
	if (fd < 0)
		fatal_errno("cannot listen on %s", tmp);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		fatal_errno("cannot rename %s to %s", tmp, path);
	}
	free(tmp);
	free(path);
	return fd;
}

/* This host's place in a site (site.h): only a front-end or mailbox host
 * tells its users' hosts apart; a one-host instance stores every user here. */
static void load_site(const struct instance *in)
{
	static struct site site;
	char why[400];
	if (site_load(in, &site, why, sizeof why) < 0)
		fatal("%s", why);
	if (site.role == SITE_BOTH) {
		site_free(&site);
		return;
	}
	authd.site = &site;
	char *secret = site_secret_load(in, why, sizeof why);	/* as root: it is 0600 */
	if (!secret)
		fatal("%s", why);
	if (secret[0])
		authd.site_secret = secret;
	else
		free(secret);
	log_info("site: role=%s host=%s mailbox_hosts=%zu", site_role_name(site.role), site.self,
		 site.nhosts);
}

/* Open the directory once chrooted (db_dir is then "/"). The settings were
 * read before, as root: the password file may be root's alone. */
static void open_directory(struct dir_settings *ds)
{
	char why[512];
	ds->db_dir = authd.db_dir;
	ds->pool = authd.lookup_threads + authd.hash_threads;
	ds->app = "tern-authd";
	authd.dir = dir_open(ds, why, sizeof why);
	dir_settings_free(ds);
	if (!authd.dir)
		fatal("%s", why);
	if (dir_backend(authd.dir) == DIR_PGSQL)
		authd.lookq = workq_new(authd.base, (int)authd.lookup_threads);
}

int main(int argc, char **argv)
{
	struct instance in;
	struct cfg conf;
	struct daemon_rest rest;
	struct dir_settings ds;
	struct stat st;
	char why[512];

	daemon_init("authd", authd_settings, argc, argv, &in, &conf, &rest);
	if (rest.argc > 0)
		fatal("unknown argument %s (tern-authd takes no role arguments)", rest.argv[0]);
	authd_apply_settings(&conf);
	if (stat(in.db_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		fatal("user database directory %s is missing (mailctl init creates it)", in.db_dir);
	if (dir_settings_load(&in, &ds, why, sizeof why) < 0)
		fatal("%s", why);
	userdb_prepare(in.db_dir);
	load_site(&in);
	peer_allow_defaults(in.dir);
	authd.secret = daemon_secret();
	authd.base = event_base_new();
	if (!authd.base)
		fatal("event_base_new failed");
	int lfd = open_socket(&in);
	bool root = running_as_root();
	privdrop(ACCT_AUTHD, in.db_dir);
	authd.db_dir = root ? "/" : in.db_dir;	/* chrooted into db_dir as root */
	penalty_store_open(authd.db_dir);
	authd.hashq = workq_new(authd.base, (int)authd.hash_threads);
	open_directory(&ds);

	watch_signal(SIGTERM);
	watch_signal(SIGINT);
	watch_signal(SIGHUP);
	server_start(lfd);
	/* Reads the maps (and their lock files) in db_dir and writes its penalty
	 * table there (authd-failures, by rename); hashes on threads; a
	 * PostgreSQL directory is reached over a Unix or TCP socket. */
	const struct sb_path db = { authd.db_dir, true };
	sandbox_enter("authd", SB_THREADS | SB_ACCEPT | SB_FILES | SB_UNIX | SB_INET, &db, 1);
	log_info("ready: directory=%s peers=%zu token=%s", dir_describe(authd.dir), authd.nuids,
		 authd.secret ? "on" : "off (no run secret)");
	daemon_ready();
	event_base_dispatch(authd.base);
	penalty_store_flush();
	rl_free(authd.rl);
	rl_free(authd.rl_users);
	dir_close(authd.dir);
	daemon_done(&in, &conf);
	return 0;
}
