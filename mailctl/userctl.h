/* userctl.h — helpers of the domain/user/alias subcommands (cmd_users.c). */
#ifndef TERN_MAILCTL_USERCTL_H
#define TERN_MAILCTL_USERCTL_H

#include "common/instance.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct directory;

/* Load the instance for an administration command; prints a one-line error
 * and returns -1 if it is missing or broken. */
int userctl_instance(const char *dir, struct instance *in);

/* The instance and its directory (directory.h), for the domain, user, alias
 * and directory commands. */
struct userctl {
	struct instance in;
	struct directory *dir;
};
/* 0, or -1 after a one-line error. */
int userctl_open(const char *dir, struct userctl *u);
void userctl_close(struct userctl *u);

/* A subcommand of `mailctl domain|user|alias|directory`. */
struct userctl_sub {
	const char *name;
	int min_args, max_args;		/* after the subcommand word */
	int (*fn)(struct userctl *u, char **args, int nargs);
	const char *usage;
	const char *help;
};
/* Run the subcommand argv[1] of group with the directory open; its exit code. */
int userctl_run_sub(const char *group, const struct userctl_sub *subs, size_t nsubs,
		    const char *dir, int argc, char **argv, const char *group_usage);

/* Read a password: on a tty, prompt (twice when confirm) without echo; else
 * one line of stdin. Returns a malloc'd string (caller wipes and frees) or
 * NULL after printing a one-line error. */
char *userctl_read_password(const char *prompt, bool confirm);
/* Wipe and free a password. */
void userctl_free_password(char *pw);

/* Parse a size: digits with an optional k, m or g suffix (powers of 1024). */
bool userctl_parse_size(const char *s, uint64_t *out);

/* Create MAIL/DOMAIN/LOCALPART/ as a Maildir++ (cur new tmp and the standard
 * folders), owned by the mail store account when running as root. Existing
 * directories are kept. 0, or -1 with why. */
int userctl_make_maildir(const char *mail_dir, const char *address, char *why, size_t whylen);

/* `mailctl user key ADDRESS import FILE [--force] | show | del` (cmd_user_key.c). */
int userctl_key(struct userctl *u, char **args, int nargs);

/* `mailctl user move ADDRESS HOST` and `mailctl user receive` (userctl_move.c). */
int userctl_move(struct userctl *u, const char *address, const char *host);
int userctl_receive(struct userctl *u);

/* `mailctl user auth ADDRESS` (cmd_user_auth.c). */
int userctl_auth(const struct instance *in, const char *address);

#endif
