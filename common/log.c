/* log.c — line logging to syslog, a file or stderr. */
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char prog[32] = "tern";
static int dest_fd = 2;
static int use_syslog;
static enum log_level max_level = LOG_LVL_INFO;

int log_init(const char *progname, const char *dest)
{
	snprintf(prog, sizeof prog, "tern/%s", progname);
	if (!dest || !strcmp(dest, "stderr")) {
		use_syslog = 0;
		dest_fd = 2;
		return 0;
	}
	if (!strcmp(dest, "syslog")) {
		openlog(prog, LOG_PID | LOG_NDELAY, LOG_MAIL);
		use_syslog = 1;
		return 0;
	}
	int fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	use_syslog = 0;
	dest_fd = fd;
	return 0;
}

void log_use_fd(int fd)
{
	use_syslog = 0;
	dest_fd = fd;
}

int log_fd(void) { return use_syslog ? -1 : dest_fd; }
void log_set_level(enum log_level lvl) { max_level = lvl; }
const char *log_progname(void) { return prog; }

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *tag[] = { "error: ", "warning: ", "", "debug: " };
	char msg[2048];
	int saved = errno;
	va_list ap;

	if (lvl > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* Never let a control character from the network split or forge a log line. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (use_syslog) {
		syslog(prio[lvl], "%s%s", tag[lvl], msg);
	} else {
		char line[2200], ts[32];
		struct timespec now;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &now);
		localtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
		int n = snprintf(line, sizeof line, "%s.%03ld %s[%d]: %s%s\n", ts,
				 now.tv_nsec / 1000000, prog, (int)getpid(), tag[lvl], msg);
		if (n > (int)sizeof line - 1) {
			n = (int)sizeof line - 1;
			line[n - 1] = '\n';
		}
		(void)write_all(dest_fd, line, (size_t)n);
	}
	errno = saved;
}
