/* testdns.c — dnsmasq for unit tests. */
#include "tests/unit/testdns.h"
#include "common/dns.h"
#include "common/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char server[64];

const char *testdns_server(void)
{
	return server;
}

/* Start dnsmasq on port; the pid, or -1 when it ended at once (a port
 * another program holds: dnsmasq exits when it cannot bind). */
static pid_t start_on(int port, const char *const *records, const char *probe)
{
	char portarg[32];
	const char *argv[64];
	int n = 0;
	snprintf(portarg, sizeof portarg, "--port=%d", port);
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	const char *fixed[] = { "dnsmasq", "-k", "--no-resolv", "--no-hosts", "--no-poll", portarg,
				"--listen-address=127.0.0.1", "--bind-interfaces", "--pid-file=",
				"--log-facility=/dev/null",
				geteuid() == 0 ? "--user=root" : "--conf-file=/dev/null" };
	for (size_t i = 0; i < ARRAY_LEN(fixed); i++)
		argv[n++] = fixed[i];
	for (size_t i = 0; records[i] && n < 63; i++)
		argv[n++] = records[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		execv("/usr/sbin/dnsmasq", (char *const *)argv);
		_exit(127);
	}
	if (dns_init(server, 1) < 0) {
		fprintf(stderr, "dns_init %s failed\n", server);
		exit(1);
	}
	for (int i = 0; i < 50; i++) {
		char **t;
		size_t k;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		if (dns_txt(probe, &t, &k) == DNS_OK) {
			dns_txt_free(t, k);
			return pid;
		}
		usleep(100000);
	}
	return pid;
}

pid_t testdns_start(const char *const *records, const char *probe)
{
	if (access("/usr/sbin/dnsmasq", X_OK) != 0) {
		fprintf(stderr, "dnsmasq missing: run tools/deps.sh\n");
		exit(1);
	}
	/* A port from the pid, and the next ones when another program (a test
	 * instance of a parallel run) holds it. */
	int port = 20000 + (int)((unsigned)getpid() * 7u % 9000u);
	for (int tries = 0; tries < 8; tries++, port = 20000 + (port - 20000 + 997) % 9000) {
		pid_t pid = start_on(port, records, probe);
		if (pid > 0)
			return pid;
	}
	fprintf(stderr, "dnsmasq did not start on 8 loopback ports\n");
	exit(1);
}

void testdns_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

char *testdns_txt_arg(const char *name, const char *value)
{
	char *out = xasprintf("--txt-record=%s", name);
	for (size_t off = 0, n = strlen(value); off < n; off += 250) {
		char *o = xasprintf("%s,%.250s", out, value + off);
		free(out);
		out = o;
	}
	return out;
}
