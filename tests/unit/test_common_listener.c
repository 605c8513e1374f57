/* Unit tests: the shared listener out of descriptors (EMFILE) pauses without
 * spinning, logs one line per burst, accepts the waiting connections once
 * descriptors free up, and keeps the owner's wish to stop accepting. */
#include "common/listener.h"
#include "common/log.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int accepted;
static char logpath[512];

static void on_conn(int fd, struct sockaddr *sa, int salen, void *arg)
{
	accepted++;
	close(fd);
}

static void run_for(struct event_base *base, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static int log_count(const char *needle)
{
	FILE *f = fopen(logpath, "r");
	char line[1024];
	int n = 0;
	while (f && fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return n;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int lowest_free_fd(void)
{
	int fd = 0;
	while (fcntl(fd, F_GETFD) >= 0)
		fd++;
	return fd;
}

static int unix_listener(struct sockaddr_un *sun)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof sun->sun_path, "%s/l.sock", check_tmpdir());
	unlink(sun->sun_path);
	CHECK(bind(s, (struct sockaddr *)sun, sizeof *sun) == 0);
	CHECK(listen(s, 16) == 0);
	return s;
}

static void test_out_of_descriptors(void)
{
	struct event_base *base = event_base_new();
	struct sockaddr_un sun;
	struct listener *l = listener_new(base, unix_listener(&sun), "test", on_conn, NULL);
	int c[3];
	for (int i = 0; i < 3; i++)
		c[i] = socket(AF_UNIX, SOCK_STREAM, 0);
	struct rlimit saved;
	getrlimit(RLIMIT_NOFILE, &saved);
	struct rlimit low = { (rlim_t)lowest_free_fd(), saved.rlim_max };
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);

	/* Out of descriptors: no spinning, one line for the whole burst. */
	double cpu0 = cpu_seconds();
	CHECK(connect(c[0], (struct sockaddr *)&sun, sizeof sun) == 0);
	run_for(base, 700);
	CHECK(connect(c[1], (struct sockaddr *)&sun, sizeof sun) == 0);
	run_for(base, 1500);
	CHECK(cpu_seconds() - cpu0 < 0.5);
	CHECK(accepted == 0);
	/* Descriptors free (reading the log needs one): both waiting
	 * connections are served within the longest pause, and the end of the
	 * burst is logged once. */
	CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
	CHECK(log_count("test: accept: Too many open files; pausing") == 1);
	CHECK(log_count("accepting again") == 0);
	run_for(base, 1200);
	CHECK(accepted == 2);
	run_for(base, 1200);
	CHECK(log_count("test: accepting again") == 1);

	/* The owner's wish holds: stopped, nothing is accepted until resumed. */
	listener_set_accepting(l, false);
	CHECK(connect(c[2], (struct sockaddr *)&sun, sizeof sun) == 0);
	run_for(base, 300);
	CHECK(accepted == 2);
	listener_set_accepting(l, true);
	run_for(base, 300);
	CHECK(accepted == 3);
	for (int i = 0; i < 3; i++)
		close(c[i]);
	listener_free(l);
	event_base_free(base);
}

/* The gate of loops that poll themselves: EAGAIN leaves it open; out of
 * descriptors it shuts for 100 ms, then 200 ms; it opens again with one
 * line when accepting works. */
static void test_gate(void)
{
	struct sockaddr_un sun;
	int ls = unix_listener(&sun);
	CHECK(fcntl(ls, F_SETFL, O_NONBLOCK) == 0);
	struct accept_gate g = { .name = "gate" };
	CHECK(accept_gate_wait_ms(&g) == -1);
	CHECK(accept_gate_accept(&g, ls, SOCK_CLOEXEC) == -1 && errno == EAGAIN);
	CHECK(accept_gate_wait_ms(&g) == -1);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&sun, sizeof sun) == 0);
	struct rlimit saved;
	getrlimit(RLIMIT_NOFILE, &saved);
	struct rlimit low = { (rlim_t)lowest_free_fd(), saved.rlim_max };
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	CHECK(accept_gate_accept(&g, ls, SOCK_CLOEXEC) == -1 && errno == EMFILE);
	int w = accept_gate_wait_ms(&g);
	CHECK(w > 50 && w <= 100);
	usleep((useconds_t)(w + 5) * 1000);
	CHECK(accept_gate_wait_ms(&g) == -1);
	CHECK(accept_gate_accept(&g, ls, SOCK_CLOEXEC) == -1 && errno == EMFILE);
	w = accept_gate_wait_ms(&g);
	CHECK(w > 150 && w <= 200);
	CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
	usleep((useconds_t)(w + 5) * 1000);
	int fd = accept_gate_accept(&g, ls, SOCK_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(accept_gate_wait_ms(&g) == -1 && !g.burst && !g.pause_ms);
	CHECK(log_count("gate: accept: Too many open files; pausing") == 1);
	CHECK(log_count("gate: accepting again (2 attempt(s)") == 1);
	close(fd);
	close(c);
	close(ls);
}

static void test_transient_errors(void)
{
	CHECK(listener_error_is_transient(ECONNABORTED));
	CHECK(listener_error_is_transient(EPROTO));
	CHECK(listener_error_is_transient(ENETUNREACH));
	CHECK(!listener_error_is_transient(EMFILE));
	CHECK(!listener_error_is_transient(ENFILE));
	CHECK(!listener_error_is_transient(ENOBUFS));
}

int main(void)
{
	snprintf(logpath, sizeof logpath, "%s/log", check_tmpdir());
	log_init("test", logpath);
	test_transient_errors();
	test_out_of_descriptors();
	test_gate();
	return check_summary("test_common_listener");
}
