/* userctl_password.c — reading passwords: a prompt without echo on a tty, else
 * one line of stdin. Never from argv (it would show in ps and shell history). */
#include "mailctl/userctl.h"
#include "mailctl/commands.h"
#include "common/linereader.h"
#include "common/userdb.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

void userctl_free_password(char *pw)
{
	if (!pw)
		return;
	explicit_bzero(pw, strlen(pw));
	free(pw);
}

/* One line from fd 0; NULL (error printed) at EOF, on a read error or if longer
 * than a password may be. */
static char *read_line(void)
{
	struct fdreader *r = xcalloc(1, sizeof *r);
	struct line l = { 0 };
	char *pw = NULL;
	fdreader_init(r, 0);
	int st = fdreader_line(r, USERDB_MAX_PASSWORD + 2, &l);
	if (st == LINE_OK && !l.has_nul) {
		if (l.len && l.text[l.len - 1] == '\r')
			l.text[--l.len] = '\0';
		pw = xstrdup(l.text);
	} else if (st == LINE_TOOLONG) {
		cmd_error("password too long (at most %d bytes)", USERDB_MAX_PASSWORD);
	} else {
		cmd_error("no password given (type it at the prompt, or give one line on stdin)");
	}
	if (l.text)
		explicit_bzero(l.text, l.len);
	line_free(&l);
	explicit_bzero(r, sizeof *r);
	free(r);
	return pw;
}

static char *prompt_noecho(const char *prompt)
{
	struct termios old, quiet;
	if (tcgetattr(0, &old) < 0)
		return read_line();
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	/* Echo off (dropping type-ahead) before the prompt shows, so nothing
	 * typed in answer to it can be flushed or echoed. */
	tcsetattr(0, TCSAFLUSH, &quiet);
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	char *pw = read_line();
	tcsetattr(0, TCSANOW, &old);
	return pw;
}

char *userctl_read_password(const char *prompt, bool confirm)
{
	if (!isatty(0))
		return read_line();
	char *pw = prompt_noecho(prompt);
	if (!pw || !confirm)
		return pw;
	char *again = prompt_noecho("Retype password: ");
	if (!again || strcmp(pw, again)) {
		if (again)
			cmd_error("the passwords do not match; nothing changed");
		userctl_free_password(pw);
		userctl_free_password(again);
		return NULL;
	}
	userctl_free_password(again);
	return pw;
}

bool userctl_parse_size(const char *s, uint64_t *out)
{
	char num[32];
	size_t n = strlen(s);
	uint64_t mult = 1, v;
	if (n == 0 || n >= sizeof num)
		return false;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'k': case 'K': mult = 1024; break;
	case 'm': case 'M': mult = 1024 * 1024; break;
	case 'g': case 'G': mult = 1024ull * 1024 * 1024; break;
	}
	if (mult != 1)
		num[--n] = '\0';
	if (!parse_u64(num, UINT64_MAX / mult, &v))
		return false;
	*out = v * mult;
	return true;
}
