/* tern-deliverd — delivery agents; the role flag picks one: --local (Maildir)
 * or --remote (SMTP, a later part). */
#include "deliverd/deliverd.h"
#include "deliverd/agent.h"
#include "deliverd/remote.h"
#include "deliverd/sts.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "common/util.h"

#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Sanitizer builds only: libopendkim's dkim_privkey_load keeps the key it
 * parsed (tests/lsan.supp names it). Its frames are inside uninstrumented
 * Debian libraries, so the suppression can only match with the slow unwinder;
 * this is the one daemon that signs, so only it pays for slow unwinding (about
 * 40 % of the sanitizer e2e time when every daemon did). The environment's
 * ASAN_OPTIONS still overrides. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TERN_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(TERN_ASAN)
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}
#endif

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	log_info("stopping");
	event_base_loopbreak(arg);
}

#define DRAIN_MAX_SECONDS 900	/* a reload waits this long for jobs in hand */

static struct event_base *loop;
static struct agent *queue_agent;

static void on_drained(void *arg)
{
	log_info("stopping: replaced by a new generation");
	event_base_loopbreak(loop);
}

/* SIGHUP (`mailctl reload`): the master has started a new generation, which
 * reads the current deliverd.conf; this one answers the jobs it holds and exits. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	static bool draining;
	if (draining || !queue_agent)
		return;
	draining = true;
	struct timeval tv = { DRAIN_MAX_SECONDS, 0 };
	event_base_loopexit(loop, &tv);
	agent_drain(queue_agent, on_drained, NULL);
}

static void add_signals(struct event_base *base, struct agent *a)
{
	loop = base;
	queue_agent = a;
	struct event *st = evsignal_new(base, SIGTERM, on_term, base);
	struct event *si = evsignal_new(base, SIGINT, on_term, base);
	struct event *sh = evsignal_new(base, SIGHUP, on_hup, NULL);
	event_add(st, NULL);
	event_add(si, NULL);
	event_add(sh, NULL);
}

/* The remote agent: keys, CAs and DNS set up as root, then chrooted into
 * run_dir (which holds queue.sock) as tern-deliverd. */
static int remote_main(struct instance *in, struct cfg *conf)
{
	remote_load(in, conf);
	char *qsock = xasprintf("/queue.sock"), *ssock = xasprintf("/%s.sock", STS_SOCK);
	if (!running_as_root()) {
		free(qsock);
		free(ssock);
		qsock = instance_sock(in, "queue");
		ssock = instance_sock(in, STS_SOCK);
	}
	sts_client_init(ssock, cfg_bool(conf, "smtp_mta_sts"));
	free(ssock);
	privdrop(ACCT_DELIVERD, in->run_dir);
	struct event_base *base = event_base_new();
	if (!base)
		fatal("event_base_new failed");
	add_signals(base, remote_run(in, conf, base, qsock));
	/* DNS and SMTP to other hosts, queued; files: the system's CA store,
	 * which OpenSSL reads as it verifies (outside a chroot). */
	const struct sb_path ca[] = { { "/etc/ssl", false }, { "/usr/lib/ssl", false },
				      { "/usr/share/ca-certificates", false } };
	sandbox_enter("deliverd-remote", SB_THREADS | SB_UNIX | SB_INET | SB_FILES_READ, ca,
		      ARRAY_LEN(ca));
	log_info("remote delivery agent started");
	daemon_ready();
	event_base_dispatch(base);
	free(qsock);
	return 0;
}

int main(int argc, char **argv)
{
	struct instance in;
	struct cfg conf;
	struct daemon_rest rest;
	daemon_init("deliverd", deliverd_settings, argc, argv, &in, &conf, &rest);
	bool local = rest.argc == 1 && !strcmp(rest.argv[0], "--local");
	bool remote = rest.argc == 1 && !strcmp(rest.argv[0], "--remote");
	bool sts = rest.argc == 1 && !strcmp(rest.argv[0], "--sts");
	if (!local && !remote && !sts)
		fatal("usage: tern-deliverd [-c DIR] [-f] --local | --remote | --sts");
	if (remote || sts) {
		int r = remote ? remote_main(&in, &conf) : sts_main(&in, &conf);
		daemon_done(&in, &conf);
		return r;
	}

	struct dconf dc = {
		.mail_dir = xstrdup(in.mail_dir),
		.hostname = xstrdup(in.hostname),
		.workers = cfg_int(&conf, "local_workers"),
		.max_hops = (unsigned)cfg_int(&conf, "max_hops"),
		.quota_bounce = !strcmp(cfg_str(&conf, "over_quota"), "bounce"),
	};
	mc_opts_load(&in.conf, &dc.crypt);
	mc_preload();	/* before any confinement: see common/mailcrypt.h */
	if (!dc.workers)
		dc.workers = 1;
	privdrop(ACCT_MAILSTORE, NULL);
	struct event_base *base = event_base_new();
	if (!base)
		fatal("event_base_new failed");
	char *qsock = instance_sock(&in, "queue"), *asock = instance_sock(&in, "auth");
	add_signals(base, local_run(&dc, base, qsock, asock));
	/* Every Maildir; authd and queued (forwarded copies) over their sockets. */
	const struct sb_path mail = { dc.mail_dir, true };
	sandbox_enter("deliverd-local", SB_THREADS | SB_UNIX | SB_FILES, &mail, 1);
	log_info("local delivery agent started (mail %s)", dc.mail_dir);
	daemon_ready();
	event_base_dispatch(base);
	free(qsock);
	free(asock);
	free(dc.mail_dir);
	free(dc.hostname);
	daemon_done(&in, &conf);
	return 0;
}
