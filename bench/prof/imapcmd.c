/* imapcmd.c — run IMAP commands through tern's session code in one process,
 * on the Maildir in DIR, with no master, login or network: a repeatable
 * target for callgrind and perf (bench/prof/run builds and runs it).
 *
 *   imapcmd [-v] DIR 'SELECT INBOX' 'UID SEARCH SUBJECT x' ...
 *
 * Each argument is one command (tagged c1, c2, ...); LOGOUT is added. Tagged
 * replies go to stdout (every line with -v). The commands are written to one
 * end of a socket pair, session_run serves the other; a thread drains the
 * replies. HELPERS=N: index helper threads (default: as a session). */
#include "imapd/commands.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workahead.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool verbose;

static void *drain(void *arg)
{
	FILE *in = fdopen(*(int *)arg, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while (in && (n = getline(&line, &cap, in)) > 0)
		if (verbose || (line[0] != '*' && line[0] != '+'))
			fwrite(line, 1, (size_t)n, stdout);
	free(line);
	if (in)
		fclose(in);
	return NULL;
}

int main(int argc, char **argv)
{
	int a = 1;
	if (a < argc && !strcmp(argv[a], "-v")) {
		verbose = true;
		a++;
	}
	if (argc - a < 1 || chdir(argv[a]) < 0) {
		fprintf(stderr, "usage: imapcmd [-v] MAILDIR COMMAND...\n");
		return 2;
	}
	log_init("imapcmd", "stderr");
	/* index helper threads as a session has them (HELPERS=N sets how many) */
	workahead_start(getenv("HELPERS") ? (unsigned)atoi(getenv("HELPERS")) : workahead_default());
	struct evbuffer *cmds = evbuffer_new();
	for (int i = a + 1; i < argc; i++)
		evbuffer_add_printf(cmds, "c%d %s\r\n", i - a, argv[i]);
	evbuffer_add_printf(cmds, "z LOGOUT\r\n");
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 1;
	pthread_t t;
	pthread_create(&t, NULL, drain, &sv[1]);
	struct session_limits lim = { .line_max = 65536, .cmd_max = 1 << 20, .message_max = 1 << 30,
				      .idle_timeout = 600, .idle_max = 600 };
	/* written to the socket, not passed as pending input: session_run adds
	 * pending bytes to a bufferevent input whose end libevent keeps frozen */
	size_t n = evbuffer_get_length(cmds);
	if (write_all(sv[1], evbuffer_pullup(cmds, -1), n) < 0)
		return 1;
	session_run(sv[0], "bench", "c0", "127.0.0.1", false, NULL, 0, &lim, &imap_session_ops);
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(t, NULL);
	evbuffer_free(cmds);
	return 0;
}
