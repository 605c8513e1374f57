/* site_status.c — `mailctl status` on a front-end: does each mailbox host of
 * mailbox_hosts answer on its internal port? All hosts are tried at once (one
 * poll loop, one deadline), so a site with many hosts, or several that are
 * down and drop packets, still answers within SITE_PROBE_MS. A host answers
 * when it greets with 220 (SMTP and LMTP both do); we then say QUIT. */
#include "mailctl/site_status.h"
#include "common/instance.h"
#include "common/site.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SITE_PROBE_MS 3000
#define GREETING_MAX 512

struct probe {
	const struct site_host *h;
	int fd;
	bool connected;
	size_t got;
	char buf[GREETING_MAX + 1];
	char result[160];	/* "" while undecided */
};

__attribute__((format(printf, 2, 3)))
static void decide(struct probe *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->result, sizeof p->result, fmt, ap);
	va_end(ap);
	if (p->fd >= 0) {
		if (p->connected && !strncmp(p->result, "answers", 7))
			(void)!write(p->fd, "QUIT\r\n", 6);
		close(p->fd);
	}
	p->fd = -1;
}

/* Start a non-blocking connect to the host's internal port. */
static void probe_start(struct probe *p)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, p->h->addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET, s4->sin_port = htons(p->h->port), len = sizeof *s4;
	} else if (inet_pton(AF_INET6, p->h->addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6, s6->sin6_port = htons(p->h->port), len = sizeof *s6;
	} else {
		decide(p, "bad address %s", p->h->addr);	/* site_load checked it */
		return;
	}
	p->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		decide(p, "down (%s)", strerror(errno));
		return;
	}
	if (connect(p->fd, (struct sockaddr *)&ss, len) == 0)
		p->connected = true;
	else if (errno != EINPROGRESS)
		decide(p, "down (%s)", strerror(errno));
}

/* The socket is ready: finish the connect, or read the greeting so far. */
static void probe_step(struct probe *p)
{
	if (!p->connected) {
		int err = 0;
		socklen_t l = sizeof err;
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
			err = errno;
		if (err) {
			decide(p, "down (%s)", strerror(err));
			return;
		}
		p->connected = true;
		return;
	}
	ssize_t n = read(p->fd, p->buf + p->got, GREETING_MAX - p->got);
	if (n <= 0) {
		decide(p, "down (%s)", n == 0 ? "closed the connection without a greeting"
					      : strerror(errno));
		return;
	}
	p->got += (size_t)n;
	p->buf[p->got] = '\0';
	char *eol = strchr(p->buf, '\n');
	if (!eol && p->got < GREETING_MAX)
		return;
	if (eol)
		*eol = '\0';
	p->buf[strcspn(p->buf, "\r")] = '\0';
	/* A multi-line greeting ("220-") also says the host is up. */
	if (!strncmp(p->buf, "220", 3) && (p->buf[3] == ' ' || p->buf[3] == '-' || !p->buf[3]))
		decide(p, "answers");
	else
		decide(p, "down (greets with \"%.60s\")", p->buf);
}

static void probe_all(struct probe *pr, size_t n)
{
	struct pollfd *pfd = xcalloc(n ? n : 1, sizeof *pfd);
	uint64_t deadline = now_ms() + SITE_PROBE_MS;
	for (;;) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			pfd[i].fd = pr[i].fd;	/* a negative fd is ignored by poll */
			pfd[i].events = pr[i].connected ? POLLIN : POLLOUT;
			pfd[i].revents = 0;
			k += pr[i].fd >= 0;
		}
		uint64_t now = now_ms();
		if (!k || now >= deadline)
			break;
		if (poll(pfd, n, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < n; i++)
			if (pr[i].fd >= 0 && pfd[i].revents)
				probe_step(&pr[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (pr[i].fd >= 0)
			decide(&pr[i], "down (%s)", pr[i].connected ? "no greeting within 3s"
								    : "no connection within 3s");
	free(pfd);
}

int site_status_print(const struct instance *in, FILE *out)
{
	struct site s;
	char why[300];
	if (site_load(in, &s, why, sizeof why) < 0) {
		fprintf(out, "site: %s\n", why);
		return -1;
	}
	if (s.role != SITE_FRONTEND) {
		site_free(&s);
		return 0;
	}
	struct probe *pr = xcalloc(s.nhosts ? s.nhosts : 1, sizeof *pr);
	for (size_t i = 0; i < s.nhosts; i++) {
		pr[i].h = &s.hosts[i];
		pr[i].fd = -1;
		probe_start(&pr[i]);
	}
	probe_all(pr, s.nhosts);
	int down = 0;
	for (size_t i = 0; i < s.nhosts; i++) {
		const struct site_host *h = pr[i].h;
		bool v6 = strchr(h->addr, ':') != NULL;
		fprintf(out, "mailbox-host %s %s%s%s:%u %s\n", h->name, v6 ? "[" : "", h->addr,
			v6 ? "]" : "", h->port, pr[i].result);
		down += strncmp(pr[i].result, "answers", 7) != 0;
	}
	free(pr);
	site_free(&s);
	return down;
}

bool site_probe_one(const struct site_host *h, char *result, size_t len)
{
	struct probe p = { .h = h, .fd = -1 };
	probe_start(&p);
	probe_all(&p, 1);
	snprintf(result, len, "%s", p.result);
	return !strncmp(p.result, "answers", 7);
}
