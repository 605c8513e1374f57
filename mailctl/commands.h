/* commands.h — mailctl subcommands. Each takes the instance directory chosen by
 * -c/TERN_CONFIG (may be NULL for init) and its own arguments (argv[0] is the
 * subcommand name); returns the process exit status. */
#ifndef TERN_MAILCTL_COMMANDS_H
#define TERN_MAILCTL_COMMANDS_H

int cmd_init(const char *dir, int argc, char **argv);		/* cmd_init.c */
int cmd_start(const char *dir, int argc, char **argv);		/* master.c */
int cmd_stop(const char *dir, int argc, char **argv);
int cmd_restart(const char *dir, int argc, char **argv);
int cmd_reload(const char *dir, int argc, char **argv);
int cmd_status(const char *dir, int argc, char **argv);
int cmd_check(const char *dir, int argc, char **argv);		/* cmd_check.c */
int cmd_domain(const char *dir, int argc, char **argv);		/* cmd_users.c */
int cmd_user(const char *dir, int argc, char **argv);
int cmd_alias(const char *dir, int argc, char **argv);
int cmd_directory(const char *dir, int argc, char **argv);	/* cmd_directory.c */
int cmd_queue(const char *dir, int argc, char **argv);		/* cmd_queue.c */
int cmd_sendmail(const char *dir, int argc, char **argv);	/* cmd_sendmail.c */
int cmd_mailbox(const char *dir, int argc, char **argv);	/* cmd_mailbox.c */
int cmd_dkim(const char *dir, int argc, char **argv);		/* cmd_dkim.c */
int cmd_dmarc(const char *dir, int argc, char **argv);		/* cmd_dmarc.c */
int cmd_tlsrpt(const char *dir, int argc, char **argv);		/* cmd_tlsrpt.c */
int cmd_dns(const char *dir, int argc, char **argv);		/* cmd_dns.c */

/* Print "mailctl: MESSAGE" to stderr; returns 1 for `return usage_error(...)`. */
int cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True if argv has --help or -h; prints usage then. */
int cmd_wants_help(int argc, char **argv, const char *usage);

#endif
