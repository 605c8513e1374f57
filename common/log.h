/* log.h — one line per event, Postfix-style: "tern/PROG[PID]: QUEUEID: key=value ...".
 * Destination: syslog (mail facility), a file opened before any chroot (appends are
 * atomic per line with O_APPEND), or stderr (before the instance is known). */
#ifndef TERN_LOG_H
#define TERN_LOG_H

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* progname like "smtpd". dest: "syslog", "stderr" or a file path. 0 or -1. */
int log_init(const char *progname, const char *dest);
/* Use an already open fd (inherited from the master) as the log file. */
void log_use_fd(int fd);
int log_fd(void);
void log_set_level(enum log_level lvl);
const char *log_progname(void);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
