/* cmd_append.c — APPEND. The message literal never sits in memory: once the
 * command line announcing it names an existing folder (and the quota has
 * room), its octets go straight into a file in that folder's tmp/ as they
 * arrive (CRLF -> LF, as Maildir files are stored), and the command itself
 * renames the file into cur/ and indexes it (parsed from the file, in bounded
 * memory). A refusal comes before a synchronising literal is sent; a
 * non-synchronising one is read and dropped, then refused. */
#include "imapd/commands.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct append_args {
	char *name, *date;
	uint32_t flags;
	int64_t idate;
	char kw[MI_MAX_KEYWORDS_LEN + 1];
};

static void args_free(struct append_args *a)
{
	free(a->name);
	free(a->date);
}

/* " mailbox [(flags)] [date-time] " up to the message literal. */
static bool parse_args(struct ip *ip, struct append_args *a)
{
	memset(a, 0, sizeof *a);
	a->idate = (int64_t)time(NULL);
	if (!ip_sp(ip) || !(a->name = arg_mailbox(ip)) || !ip_sp(ip))
		return false;
	if (ip_peek(ip, '(') && (!parse_flags(ip, true, &a->flags, a->kw, sizeof a->kw) || !ip_sp(ip)))
		return false;
	if (ip_peek(ip, '"')) {
		if (!(a->date = ip_string(ip, NULL)) || (a->idate = parse_imap_date(a->date, true)) < 0 ||
		    !ip_sp(ip))
			return false;
	}
	return ip_peek(ip, '{') || ip_peek(ip, '~');
}

void append_discard(struct session *s)
{
	if (s->append.fd >= 0) {
		close(s->append.fd);
		char *p = xasprintf("%s/tmp/%s", s->append.dir, s->append.base);
		unlink(p);
		free(p);
	}
	free(s->append.dir);
	free(s->append.base);
	s->append.fd = -1;
	s->append.dir = s->append.base = NULL;
	s->append.err = NULL;
}

/* Is the literal announced at the end of the command so far APPEND's
 * message? Its folder then, malloc'd. */
static char *message_literal_folder(struct session *s)
{
	size_t len = evbuffer_get_length(s->cr.cmd);
	struct ip ip;
	ip_init(&ip, (const char *)evbuffer_pullup(s->cr.cmd, -1), len);
	ip.utf8 = s->rev2;	/* the folder name as handle_command will read it */
	char *tag = ip_tag(&ip), *cmd = NULL;
	struct append_args a;
	bool ok = tag && ip_sp(&ip) && (cmd = ip_atom(&ip)) && !strcasecmp(cmd, "APPEND") &&
		  parse_args(&ip, &a);
	free(tag);
	char *name = NULL;
	if (cmd && !strcasecmp(cmd, "APPEND")) {
		if (ok)
			name = xstrdup(a.name);
		args_free(&a);
	}
	free(cmd);
	return name;
}

/* A spool file in the folder's tmp/, or why not. */
static const char *open_spool(struct session *s, const char *name, uint64_t n)
{
	char *dir = folder_dir(name);
	if (!dir || !ms_exists(name)) {
		free(dir);
		return "[TRYCREATE] No such mailbox";
	}
	if (quota_exceeded(s, n)) {
		free(dir);
		return "[OVERQUOTA] Mailbox is over its quota";
	}
	char *base = mi_unique_name();
	char *path = xasprintf("%s/tmp/%s", dir, base);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	if (fd < 0) {
		log_err("user=%s: cannot create a file in %s/tmp: %m", s->user, dir);
		free(dir);
		free(base);
		return "[SERVERBUG] Cannot store message";
	}
	s->append.fd = fd;
	s->append.dir = dir;
	s->append.base = base;
	return NULL;
}

void append_literal(struct session *s, const char *tag)
{
	bool sync = s->cr.lit_sync;
	append_discard(s);
	char *name = message_literal_folder(s);
	if (!name) {
		cr_inline(&s->cr);	/* a literal mailbox name, or a syntax error to come */
		if (sync)
			s_out(s, "+ Ready for literal data");
		return;
	}
	const char *why = open_spool(s, name, s->cr.literal_left);
	free(name);
	if (why && sync) {
		evbuffer_add_printf(s_buf(s), "%s NO %s\r\n", tag, why);
		cr_drop(&s->cr);
		return;
	}
	s->append.err = why;
	cr_spool(&s->cr, s->append.fd);
	if (sync)
		s_out(s, "+ Ready for literal data");
}

/* The tagged answer to an APPEND whose message the index took (r 0) or not;
 * the selected view learns of the new message first. */
static void append_reply(struct session *s, const struct append_args *a, int r, uint32_t uv,
			 uint32_t newuid)
{
	if (r < 0) {
		log_err("user=%s: append to %s failed", s->user, a->name);
		s_no(s, "[SERVERBUG] Cannot store message");
		return;
	}
	if (s->sel && !strcmp(s->sel->name, a->name))
		mi_close(view_sync(s, !s->in_fetch_like));
	s_ok(s, "[APPENDUID %u %u] APPEND completed", uv, newuid);
}

/* The message is in DIR/tmp/BASE: into the folder with it. */
static void append_spooled(struct session *s, const struct append_args *a)
{
	close(s->append.fd);
	s->append.fd = -1;	/* mi_add_tmp owns the file now (removes it on failure) */
	struct mi *mi = s->cr.spool_err ? NULL : open_folder(s, s->append.dir);
	uint32_t newuid = 0;
	int r = mi ? mi_add_tmp(mi, s->append.base, a->flags, a->kw, a->idate, &newuid) : -1;
	uint32_t uv = mi ? mi_header(mi)->uidvalidity : 0;
	mi_close(mi);
	if (r < 0 && !mi) {
		char *p = xasprintf("%s/tmp/%s", s->append.dir, s->append.base);
		unlink(p);
		free(p);
	}
	append_reply(s, a, r, uv, newuid);
}

/* A small literal that came inline (an empty message): stored from memory. */
static void append_inline(struct session *s, const struct append_args *a, const char *msg, size_t len)
{
	if (!ms_exists(a->name)) {
		s_no(s, "[TRYCREATE] No such mailbox");
		return;
	}
	if (over_quota(s, len))
		return;
	int fd = memfd_create("append", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, msg, len) < 0) {
		if (fd >= 0)
			close(fd);
		s_no(s, "[SERVERBUG] Cannot store message");
		return;
	}
	char *dir = folder_dir(a->name);
	struct mi *mi = open_folder(s, dir);
	free(dir);
	uint32_t newuid = 0;
	int r = mi ? mi_add_fd(mi, fd, a->flags, a->kw, a->idate, &newuid) : -1;
	uint32_t uv = mi ? mi_header(mi)->uidvalidity : 0;
	mi_close(mi);
	close(fd);
	append_reply(s, a, r, uv, newuid);
}

void cmd_append(struct session *s, struct ip *ip, bool uid)
{
	struct append_args a;
	bool spooled = s->append.fd >= 0 || s->append.err;
	char *msg = NULL;
	size_t len = 0;
	uint64_t n;
	bool ok = parse_args(ip, &a) &&
		  (spooled ? ip_literal_header(ip, &n) : (msg = ip_string(ip, &len)) != NULL) &&
		  ip_eol(ip);
	if (!ok)
		s_bad(s, "Syntax: APPEND mailbox [(flags)] [\"date-time\"] {literal}");
	else if (s->append.err)
		s_no(s, "%s", s->append.err);
	else if (spooled)
		append_spooled(s, &a);
	else
		append_inline(s, &a, msg, len);
	append_discard(s);
	args_free(&a);
	free(msg);
}
