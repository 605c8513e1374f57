/* userctl.h — helpers of the domain/user/alias subcommands (cmd_users.c). */
#ifndef TERN_MAILCTL_USERCTL_H
#define TERN_MAILCTL_USERCTL_H

#include "common/instance.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Load the instance for an administration command; prints a one-line error
 * and returns -1 if it is missing or broken. */
int userctl_instance(const char *dir, struct instance *in);

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
int userctl_key(const struct instance *in, char **args, int nargs);

/* `mailctl user auth ADDRESS` (cmd_user_auth.c). */
int userctl_auth(const struct instance *in, const char *address);

#endif
