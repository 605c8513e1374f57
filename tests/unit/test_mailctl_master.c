/* Unit tests: the master's building blocks — process table helpers, bounded
 * helper runs, the pid-file lock, /proc liveness, listener fd lists, control
 * requests. */
#include "mailctl/control.h"
#include "mailctl/listen.h"
#include "mailctl/procs.h"
#include "mailctl/runprog.h"
#include "mailctl/runstate.h"
#include "common/ipc.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* mailctl/main.c provides these to the commands; listen.c reports through them. */
int cmd_error(const char *fmt, ...)
{
	return 1;
}

static void test_table(void)
{
	const char *names[32];
	size_t n = proc_conf_names(names, 32);
	CHECK(n >= 1 && n <= nprocs);
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			CHECK(strcmp(names[i], names[k]) != 0);	/* distinct */
	for (size_t i = 0; i < nprocs; i++) {
		CHECK(!strncmp(procs[i].binary, "tern-", 5));
		CHECK(procs[i].account && !strncmp(procs[i].account, "tern-", 5));
		for (const char *const *s = procs[i].listen; *s; s++)
			CHECK(service_find(*s) != NULL);	/* every socket name is a service */
		/* Run keys only where they are used: never to a network parser; the
		 * agent key to queued and the delivery agents alone. */
		if (proc_is_network(&procs[i]))
			CHECK(procs[i].keys == 0);
		/* (deliverd-sts, the MTA-STS fetcher, takes no jobs: no agent key) */
		bool agent = !strcmp(procs[i].name, "queued") || !strcmp(procs[i].name, "deliverd-local") ||
			     !strcmp(procs[i].name, "deliverd-remote");
		CHECK(!!(procs[i].keys & KEY_AGENT) == agent);
		if (procs[i].keys & KEY_LOGIN)
			CHECK(!strcmp(procs[i].name, "authd") || strstr(procs[i].name, "-mail"));
	}
	CHECK(service_find("smtp")->port == 25 && service_find("imaps")->port == 993);
	CHECK(service_find("gopher") == NULL);
	static const struct proc_def p = { "x", "tern-deliverd", { "--local" }, "tern-vmail", NULL, { NULL }, RELOAD_IN_PLACE, 0 };
	CHECK_STR(proc_conf_name(&p), "deliverd");
	CHECK(!proc_is_network(&p));
	char *path = tern_binary_path("tern-no-such-binary");
	CHECK(strstr(path, TERN_LIBEXECDIR "/tern-no-such-binary") == path);
	free(path);
}

static void test_run_prog(void)
{
	char *out = NULL;
	char *echo[] = { "/bin/sh", "-c", "printf 'a\\nb\\n'; exit 3", NULL };
	CHECK(run_prog(echo, -1, &out, 100, 5) == 3);
	CHECK_STR(out, "a\nb\n");
	free(out);
	/* Output beyond the cap is discarded, never overflows. */
	char *big[] = { "/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x", NULL };
	CHECK(run_prog(big, -1, &out, 10, 5) == 0);
	CHECK(strlen(out) == 10);
	free(out);
	/* A program that hangs is killed at the deadline. */
	char *hang[] = { "/bin/sleep", "30", NULL };
	uint64_t t0 = now_ms();
	CHECK(run_prog(hang, -1, &out, 10, 1) == RUNPROG_TIMEOUT);
	CHECK(now_ms() - t0 < 10000);
	free(out);
	char *missing[] = { "/nonexistent/prog", NULL };
	CHECK(run_prog(missing, -1, &out, 10, 5) == 127);
	free(out);
	char *killed[] = { "/bin/sh", "-c", "kill -9 $$", NULL };
	CHECK(run_prog(killed, -1, &out, 10, 5) == RUNPROG_SIGNALLED);
	free(out);
}

static void test_pidfile(void)
{
	const char *dir = check_tmpdir();
	pid_t other;
	CHECK(master_running(dir) == 0);
	int fd = pidfile_lock(dir, &other);
	CHECK(fd >= 0);
	CHECK(pidfile_write(fd, 4242) == 0);
	CHECK(master_running(dir) == 4242);
	/* A second master (another open file description) is refused. */
	CHECK(pidfile_lock(dir, &other) == -1 && other == 4242);
	close(fd);
	/* A stale file left after a crash does not look like a running master. */
	CHECK(master_running(dir) == 0);
	fd = pidfile_lock(dir, &other);
	CHECK(fd >= 0);
	close(fd);
}

static void test_liveness(void)
{
	CHECK(pid_alive(getpid()));
	CHECK(proc_uid(getpid()) == (long)getuid());
	pid_t z = fork();
	if (z == 0)
		_exit(0);
	/* Until reaped it is a zombie: gone for pid_alive. */
	CHECK(pid_wait_gone(z, 5000));
	CHECK(!pid_alive(z));
	int st;
	waitpid(z, &st, 0);
	CHECK(!pid_alive(z));
	gid_t groups[64];
	int ng = getgroups(64, groups);
	bool plain = getuid() == geteuid() && getgid() == getegid() &&
		     (ng == 0 || (ng == 1 && groups[0] == getgid()));
	CHECK(proc_ids_are(getpid(), (long)getuid(), (long)getgid()) == plain);
	CHECK(!proc_ids_are(getpid(), (long)getuid() + 1, (long)getgid()));
	CHECK(!proc_ids_are(999999999, 0, 0));
	char name[64];
	uid_name(0, name, sizeof name);
	CHECK_STR(name, "root");
	uid_name(-1, name, sizeof name);
	CHECK_STR(name, "-1");
}

static void test_listeners_env(void)
{
	struct listener v[] = {
		{ "smtp", "127.0.0.1", 25, 5 }, { "smtp", "::1", 25, 6 },
		{ "submission", "127.0.0.1", 587, 7 }, { "imap", "127.0.0.1", 143, 8 },
	};
	struct listeners ls = { v, 4 };
	const char *const smtpd[] = { "smtp", "submission", "smtps", NULL };
	const char *const none[] = { NULL };
	char *e = listeners_env(&ls, smtpd);
	CHECK_STR(e, "smtp:5,smtp:6,submission:7");
	free(e);
	CHECK(listeners_env(&ls, none) == NULL);
}

/* A control request as the master reads it: type, then optional junk. */
static int ctl_type_of(uint16_t type, bool field, bool fd)
{
	struct ipc_msg m, r;
	ipc_msg_init(&m, type, 1);
	if (field)
		ipc_put_str(&m, "x");
	size_t n;
	unsigned char *b = ipc_encode(&m, &n);
	CHECK(ipc_decode(b, n, &r) == (long)n);
	free(b);
	ipc_msg_free(&m);
	if (fd)
		r.fd = dup(0);
	int t = ctl_request_type(&r);
	ipc_msg_free(&r);
	return t;
}

/* Requests carry nothing but their type: anything more is refused. */
static void test_ctl_requests(void)
{
	CHECK(ctl_type_of(CTL_STATUS, false, false) == CTL_STATUS);
	CHECK(ctl_type_of(CTL_RELOAD, false, false) == CTL_RELOAD);
	CHECK(ctl_type_of(CTL_STOP, false, false) == CTL_STOP);
	CHECK(ctl_type_of(CTL_REPLY, false, false) == -1);
	CHECK(ctl_type_of(CTL_STOP, true, false) == -1);
	CHECK(ctl_type_of(CTL_STATUS, false, true) == -1);
}

int main(void)
{
	test_ctl_requests();
	test_table();
	test_run_prog();
	test_pidfile();
	test_liveness();
	test_listeners_env();
	return check_summary("mailctl_master");
}
