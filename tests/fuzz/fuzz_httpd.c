/* fuzz_httpd.c — libFuzzer target for what httpd reads from clients once
 * evhttp has handed over a request:
 *   - in the front, before any login (httpd/front_parse.c): the HTTP Basic
 *     credentials, the webmail's login body, its session cookie and CSRF
 *     header; every input goes through all four;
 *   - in a user's mail process, an input that starts with '{' is a JMAP API
 *     request (jmap_api_request): the Request object, result references,
 *     and each method's argument parser and what it does with them, on a
 *     Maildir made afresh for each input (the special folders and two
 *     messages, one with an attachment), so a crash replays alone.
 * Answers are checked to be JSON the daemon could send; submissions go
 * nowhere (submit_message is a stub that refuses; submit_addresses names
 * the login address and one alias; submit_status cannot answer). Leaks are findings.
 * Run: make fuzz (long) or make fuzz-smoke (part of make check). */
#include "httpd/account.h"
#include "httpd/front_parse.h"
#include "httpd/jmap.h"
#include "httpd/sess.h"
#include "httpd/submit.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID_LEN 64

static char base[64];
static int start_dir = -1;	/* libFuzzer's paths are relative to it */
static struct session_conf conf = {
	.base_url = "https://mail.example.test",
	.lim = { .max_size_upload = 1 << 20, .max_concurrent_upload = 4,
		 .max_size_request = 1 << 20, .max_concurrent_requests = 4,
		 .max_calls_in_request = 16, .max_objects_in_get = 100,
		 .max_objects_in_set = 100 },
	.ping_min_s = 30,
};

static const char plain[] =
	"From: Alice <alice@example.org>\nTo: bob@example.test\nSubject: hello\n"
	"Message-ID: <a1@example.org>\nDate: Mon, 02 Mar 2026 10:00:00 +0000\n\nhello budget\n";
static const char mixed[] =
	"From: =?UTF-8?Q?J=C3=B6e?= <joe@example.org>\nTo: bob@example.test, c@example.org\n"
	"Subject: Re: hello\nIn-Reply-To: <a1@example.org>\nMIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n\n"
	"<p>see <b>this</b></p>\n--b\nContent-Type: message/rfc822\n"
	"Content-Disposition: attachment; filename=in.eml\n\nFrom: x@example.org\n"
	"Subject: inner\n\ninner body\n--b--\n";

/* ---- what the mail process would send over its channel ---- */

static void check_json(const void *body, size_t len, const char *ctype)
{
	if (!ctype || strncmp(ctype, "application/", 12))
		return;
	json_t *j = json_loadb(body, len, 0, NULL);
	if (!j)
		abort();	/* the daemon answered something that is not JSON */
	json_decref(j);
}

void sess_reply(struct sess *s, uint32_t id, int status, const char *ctype, const char *hdrs,
		const void *body, size_t len)
{
	if (status < 100 || status > 599)
		abort();
	check_json(body, len, ctype);
}

void sess_reply_fd(struct sess *s, uint32_t id, int status, const char *ctype, const char *hdrs,
		   int fd, size_t len)
{
	close(fd);
}

void sess_reply_json(struct sess *s, uint32_t id, int status, const char *ctype, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		abort();
	sess_reply(s, id, status, ctype, NULL, text, strlen(text));
	free(text);
}

void sess_problem(struct sess *s, uint32_t id, int status, const char *type, const char *limit,
		  const char *detail)
{
	sess_reply_json(s, id, status, "application/problem+json",
			json_pack("{s:s, s:i, s:s}", "type", type, "status", status, "detail", detail));
}

void sess_event(struct sess *s, uint32_t id, const char *text)
{
}

void submit_message(struct sess *s, const char *sender, const char *const *rcpts, size_t n,
		    int fd, size_t len, struct submit_result *r)
{
	close(fd);
	memset(r, 0, sizeof *r);
	r->status = 1;
	strcpy(r->text, "not in the fuzzer");
}

json_t *submit_addresses(struct sess *s)
{
	return json_pack("[s, s]", s->user, "alias@example.test");
}

json_t *submit_status(struct sess *s, const char *const *qids, size_t n)
{
	return NULL;	/* as when the front cannot answer */
}

/* ---- a fresh Maildir per input ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
		abort();
	close(fd);
}

static void fresh_maildir(void)
{
	if (chdir(base) < 0)
		abort();
	nftw("m", rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (ms_ensure_maildir("m", true) < 0)
		abort();
	put("m/new/1000000000.1.fuzz", plain);
	put("m/new/1000000001.2.fuzz", mixed);
	if (chdir("m") < 0)
		abort();
}

static void jmap(const uint8_t *data, size_t n)
{
	fresh_maildir();
	struct sess s = { .user = "bob@example.test", .account = "a0123456789abcdef",
			  .conf = &conf };
	account_init(&s.acct);
	jmap_api_request(&s, 1, "application/json", (const char *)data, n);
	account_free(&s.acct);
	if (fchdir(start_dir) < 0)
		abort();
}

/* ---- the front's parsers ---- */

static void front(const uint8_t *data, size_t n)
{
	char *h = xstrndup((const char *)data, n), *u = NULL, *p = NULL;
	if (front_basic_parse(h, &u, &p)) {
		if (!*u || strchr(u, ':'))
			abort();
		free(u);
		free(p);
	}
	if (front_login_parse((const char *)data, n, &u, &p)) {
		if (!*u || !*p)
			abort();
		free(u);
		free(p);
	}
	char id[ID_LEN + 1];
	if (front_cookie_value(h, id, ID_LEN) && strlen(id) > ID_LEN)
		abort();
	char token[ID_LEN + 1];
	memset(token, 'a', ID_LEN);
	token[ID_LEN] = '\0';
	if (front_token_ok(h, token, ID_LEN) != !strcmp(h, token))
		abort();
	free(h);
}

static void cleanup(void)
{
	if (chdir(base) == 0)
		nftw("m", rm_one, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* in memory where there is a tmpfs: the indexes and journal sync */
	snprintf(base, sizeof base, "%s/fuzz-httpd.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	start_dir = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (start_dir < 0 || !mkdtemp(base))
		abort();
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	front(data, n);
	if (n && data[0] == '{')
		jmap(data, n);
	return 0;
}
