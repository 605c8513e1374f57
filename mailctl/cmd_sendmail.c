/* cmd_sendmail.c — `mailctl sendmail` (also run as `sendmail`): local
 * submission compatible with sendmail(8). Reads the message on stdin, adds
 * Received (and From, Date, Message-ID when missing), and enqueues it through
 * queued like smtpd does. Exit status: 0 queued, 64 usage, 65 bad input,
 * 69 refused, 75 temporary failure (try again; nothing was queued). */
#include "mailctl/commands.h"
#include "common/instance.h"
#include "common/ipc.h"
#include "common/linereader.h"
#include "common/queue_proto.h"
#include "common/queue_submit.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_UNAVAILABLE 69
#define EX_TEMPFAIL 75
#define LINE_MAX_BYTES 65536
#define MAX_MESSAGE (512UL * 1024 * 1024)
#define QUEUE_WAIT_MS 60000	/* how long to wait for a restarting queued */

struct opts {
	bool t, i;
	const char *from;
	char **rcpts;
	size_t nrcpt;
};

static void add_rcpt(struct opts *o, const char *a, size_t n)
{
	if (!n || o->nrcpt >= QUEUE_MAX_RCPTS)
		return;
	o->rcpts = xrealloc(o->rcpts, (o->nrcpt + 1) * sizeof *o->rcpts);
	o->rcpts[o->nrcpt++] = xstrndup(a, n);
}

/* Addresses of a To/Cc/Bcc field value: "Name <a@b>, c@d (comment)". */
static void parse_addresses(struct opts *o, const char *v)
{
	const char *p = v;
	while (*p) {
		const char *start = p;
		int quote = 0, angle = 0, paren = 0;
		const char *lt = NULL, *gt = NULL;
		for (; *p && (quote || angle || paren || *p != ','); p++) {
			if (*p == '"' && !paren)
				quote = !quote;
			else if (!quote && *p == '(')
				paren++;
			else if (!quote && *p == ')' && paren)
				paren--;
			else if (!quote && !paren && *p == '<') {
				angle = 1;
				lt = p;
			} else if (!quote && !paren && *p == '>' && angle) {
				angle = 0;
				gt = p;
			}
		}
		if (lt && gt) {
			add_rcpt(o, lt + 1, (size_t)(gt - lt - 1));
		} else {
			char tok[1024];
			size_t n = 0;
			int par = 0;
			for (const char *q = start; q < p && n < sizeof tok - 1; q++) {
				if (*q == '(')
					par++;
				else if (*q == ')' && par)
					par--;
				else if (!par && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n')
					tok[n++] = *q;
			}
			if (n && memchr(tok, '@', n))
				add_rcpt(o, tok, n);
			else if (n && !memchr(tok, ':', n))
				add_rcpt(o, tok, n);
		}
		if (*p == ',')
			p++;
	}
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "-t")) {
			o->t = true;
		} else if (!strcmp(a, "-i") || !strcmp(a, "-oi")) {
			o->i = true;
		} else if (!strcmp(a, "-f") || !strcmp(a, "-r") || !strcmp(a, "-F") || !strcmp(a, "-N") ||
			   !strcmp(a, "-R") || !strcmp(a, "-V") || !strcmp(a, "-o") || !strcmp(a, "-B")) {
			if (i + 1 >= argc)
				return -1;
			if (a[1] == 'f' || a[1] == 'r')
				o->from = argv[i + 1];
			i++;
		} else if (!strncmp(a, "-f", 2) || !strncmp(a, "-r", 2)) {
			o->from = a + 2;
		} else if (!strncmp(a, "-o", 2) || !strncmp(a, "-F", 2) || !strncmp(a, "-N", 2) ||
			   !strncmp(a, "-R", 2) || !strncmp(a, "-B", 2) || !strcmp(a, "-bm") ||
			   !strncmp(a, "-e", 2) || !strcmp(a, "-U") || !strcmp(a, "-m") || !strcmp(a, "-v")) {
			/* accepted for compatibility, no effect */
		} else {
			return -1;
		}
	}
	for (; i < argc; i++)
		parse_addresses(o, argv[i]);
	return 0;
}

struct msg {
	struct strbuf head, body;
	bool has_from, has_date, has_msgid;
	bool eightbit;
};

/* Read stdin into header and body (CRLF endings), honouring -i and -t. */
static int read_message(struct opts *o, struct msg *m)
{
	struct fdreader r;
	fdreader_init(&r, 0);
	bool in_head = true, skipping = false, in_addr = false;
	size_t total = 0;
	for (;;) {
		struct line l;
		int st = fdreader_line(&r, LINE_MAX_BYTES, &l);
		if (st < 0)
			return cmd_error("sendmail: read error on standard input"), EX_DATAERR;
		if (st == LINE_MORE)
			break;
		if (st == LINE_TOOLONG)
			return cmd_error("sendmail: input line longer than %d bytes", LINE_MAX_BYTES), EX_DATAERR;
		if (!o->i && l.len == 1 && l.text[0] == '.') {
			line_free(&l);
			break;
		}
		for (size_t k = 0; k < l.len; k++)
			m->eightbit |= (unsigned char)l.text[k] > 127;
		total += l.len + 2;
		if (total > MAX_MESSAGE) {
			line_free(&l);
			return cmd_error("sendmail: message larger than %lu bytes", MAX_MESSAGE), EX_DATAERR;
		}
		if (in_head && l.len == 0) {
			in_head = false;
			line_free(&l);
			continue;
		}
		if (in_head && !(l.text[0] == ' ' || l.text[0] == '\t') && !memchr(l.text, ':', l.len)) {
			in_head = false;	/* no header at all: everything is body */
		}
		if (in_head) {
			bool cont = l.text[0] == ' ' || l.text[0] == '\t';
			if (!cont) {
				skipping = false;
				in_addr = !strncasecmp(l.text, "To:", 3) || !strncasecmp(l.text, "Cc:", 3) ||
					  !strncasecmp(l.text, "Bcc:", 4);
				if (o->t && (!strncasecmp(l.text, "To:", 3) || !strncasecmp(l.text, "Cc:", 3)))
					parse_addresses(o, strchr(l.text, ':') + 1);
				if (o->t && !strncasecmp(l.text, "Bcc:", 4)) {
					parse_addresses(o, l.text + 4);
					skipping = true;
				}
				m->has_from |= !strncasecmp(l.text, "From:", 5);
				m->has_date |= !strncasecmp(l.text, "Date:", 5);
				m->has_msgid |= !strncasecmp(l.text, "Message-ID:", 11);
			} else if (o->t && in_addr) {
				/* continuation line of To/Cc/Bcc */
				parse_addresses(o, l.text);
			}
			if (!skipping) {
				strbuf_add(&m->head, l.text, l.len);
				strbuf_add(&m->head, "\r\n", 2);
			}
		} else {
			strbuf_add(&m->body, l.text, l.len);
			strbuf_add(&m->body, "\r\n", 2);
		}
		line_free(&l);
	}
	return 0;
}

static int write_message(int fd, const char *qid, const char *host, const char *sender,
			 struct msg *m)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
	struct strbuf h = { 0 };
	char *s = xasprintf("Received: by %s (tern sendmail, from uid %u)\r\n\tid %s; %s\r\n", host,
			    (unsigned)getuid(), qid, date);
	strbuf_adds(&h, s);
	free(s);
	strbuf_add(&h, m->head.p ? m->head.p : "", m->head.len);
	if (!m->has_from) {
		s = xasprintf("From: %s\r\n", *sender ? sender : "MAILER-DAEMON");
		strbuf_adds(&h, s);
		free(s);
	}
	if (!m->has_date) {
		s = xasprintf("Date: %s\r\n", date);
		strbuf_adds(&h, s);
		free(s);
	}
	if (!m->has_msgid) {
		s = xasprintf("Message-ID: <%s@%s>\r\n", qid, host);
		strbuf_adds(&h, s);
		free(s);
	}
	strbuf_add(&h, "\r\n", 2);
	int r = write_all(fd, h.p, h.len);
	if (r == 0 && m->body.len)
		r = write_all(fd, m->body.p, m->body.len);
	free(h.p);
	return r;
}

static int exit_for(uint32_t st)
{
	return st == QS_OK ? 0 : st == QS_REJECT ? EX_UNAVAILABLE : EX_TEMPFAIL;
}

static int enqueue(const struct instance *in, const char *sender, struct opts *o, struct msg *m)
{
	char err[512];
	struct queue_submission qs;
	char *path = instance_sock(in, "queue");
	uint32_t st = queue_submit_open(path, QUEUE_WAIT_MS, &qs, err, sizeof err);
	free(path);
	if (st != QS_OK) {
		cmd_error("sendmail: %s", err);
		return exit_for(st);
	}
	if (write_message(qs.fd, qs.qid, in->hostname, sender, m) < 0) {
		int werr = errno;
		queue_submit_abort(&qs);
		cmd_error("sendmail: writing the queue file failed: %s", werr == ENOSPC || werr == EDQUOT
			  ? "insufficient system storage" : strerror(werr));
		return EX_TEMPFAIL;
	}
	const struct queue_envelope env = {
		.sender = sender, .flags = QF_LOCAL | (m->eightbit ? QF_8BITMIME : 0),
		.client = "local", .nrcpt = o->nrcpt, .rcpts = (const char *const *)o->rcpts };
	st = queue_submit_commit(&qs, &env, 120000, err, sizeof err);
	if (st != QS_OK)
		cmd_error("sendmail: %s", err);
	return exit_for(st);
}

static bool valid_address(const char *a)
{
	if (strlen(a) > 512)
		return false;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>')
			return false;
	return true;
}

static void free_all(struct opts *o, struct msg *m)
{
	for (size_t k = 0; k < o->nrcpt; k++)
		free(o->rcpts[k]);
	free(o->rcpts);
	free(m->head.p);
	free(m->body.p);
}

static int run(const struct instance *in, struct opts *o, struct msg *m)
{
	int r = read_message(o, m);
	if (r)
		return r;
	if (!o->nrcpt)
		return cmd_error("sendmail: no recipients (give them as arguments, or use -t)"), EX_USAGE;
	for (size_t k = 0; k < o->nrcpt; k++) {
		if (!valid_address(o->rcpts[k]))
			return cmd_error("sendmail: bad recipient address \"%s\"", o->rcpts[k]), EX_DATAERR;
		/* A bare local name means that name at this host. */
		if (!strchr(o->rcpts[k], '@')) {
			char *full = xasprintf("%s@%s", o->rcpts[k], in->hostname);
			free(o->rcpts[k]);
			o->rcpts[k] = full;
		}
	}
	char *sender;
	if (o->from && !strcmp(o->from, "<>")) {
		sender = xstrdup("");
	} else if (o->from) {
		if (!valid_address(o->from))
			return cmd_error("sendmail: bad sender address \"%s\"", o->from), EX_DATAERR;
		sender = strchr(o->from, '@') ? xstrdup(o->from) : xasprintf("%s@%s", o->from, in->hostname);
	} else {
		struct passwd *pw = getpwuid(getuid());
		sender = xasprintf("%s@%s", pw ? pw->pw_name : "unknown", in->hostname);
	}
	r = enqueue(in, sender, o, m);
	free(sender);
	return r;
}

int cmd_sendmail(const char *dir, int argc, char **argv)
{
	if (cmd_wants_help(argc, argv, "sendmail [-t] [-f SENDER] [-i] [RCPT...]"))
		return 0;
	struct opts o = { 0 };
	struct msg m = { 0 };
	int r;
	if (parse_args(argc, argv, &o) < 0) {
		free_all(&o, &m);
		return cmd_error("sendmail: usage: sendmail [-t] [-f SENDER] [-i] [RCPT...]"), EX_USAGE;
	}
	struct instance in;
	struct cfg_errors errs = { 0 };
	if (instance_load(&in, instance_default_dir(dir), &errs) < 0) {
		for (int i = 0; i < errs.count; i++)
			cmd_error("%s", errs.msg[i]);
		r = EX_TEMPFAIL;
	} else {
		r = run(&in, &o, &m);
	}
	instance_free(&in);
	free_all(&o, &m);
	return r;
}
