/* cmd_msg.c — EXPUNGE (and UID EXPUNGE), CLOSE, UNSELECT, COPY, MOVE. */
#include "imapd/commands.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Indexes of \Deleted messages (within uidset when given). */
static size_t deleted_indexes(struct view *v, const struct seqset *uidset, size_t **idx)
{
	size_t n = 0;
	*idx = xcalloc(v->n + 1, sizeof **idx);
	for (size_t i = 0; i < v->n; i++)
		if ((v->m[i].flags & MI_DELETED) && (!uidset || view_set_has(v, uidset, i, true)))
			(*idx)[n++] = i;
	return n;
}

void cmd_expunge(struct session *s, struct ip *ip, bool uid)
{
	struct seqset set = { 0 };
	char *setstr = NULL;
	if (uid ? (!ip_sp(ip) || !(setstr = ip_until(ip, " ")) || !seqset_parse(setstr, &set) || !ip_eol(ip))
		: !ip_eol(ip)) {
		s_bad(s, uid ? "Syntax: UID EXPUNGE set" : "Syntax: EXPUNGE");
		goto out;
	}
	if (s->sel->readonly) {
		s_no(s, "[READ-ONLY] Mailbox is read-only");
		goto out;
	}
	struct mi *mi = view_sync(s, true);
	if (!mi) {
		s_no(s, "[SERVERBUG] Cannot open mailbox");
		goto out;
	}
	size_t *idx;
	size_t n = deleted_indexes(s->sel, uid ? &set : NULL, &idx);
	expunge_indexes(s, mi, idx, n, false);
	free(idx);
	mi_close(mi);
	s_ok(s, "EXPUNGE completed");
out:
	free(setstr);
	seqset_free(&set);
}

void cmd_close(struct session *s, struct ip *ip, bool uid)
{
	if (!ip_eol(ip)) {
		s_bad(s, "Syntax: CLOSE");
		return;
	}
	if (!s->sel->readonly) {
		/* silent expunge (RFC 3501 6.4.2) */
		char why[256];
		struct mi *mi = mi_open(s->sel->dir, NULL, NULL, why, sizeof why);
		if (mi) {
			struct mi_rec *recs;
			size_t nr;
			mi_load(mi, &recs, &nr);
			for (size_t i = 0; i < nr; i++)
				if (recs[i].flags & MI_DELETED)
					mi_expunge(mi, recs[i].uid);
			mi_recs_free(recs, nr);
			mi_close(mi);
		}
	}
	view_free(s->sel);
	s->sel = NULL;
	s_ok(s, "CLOSE completed");
}

void cmd_unselect(struct session *s, struct ip *ip, bool uid)
{
	if (!ip_eol(ip)) {
		s_bad(s, "Syntax: UNSELECT");
		return;
	}
	view_free(s->sel);
	s->sel = NULL;
	s_ok(s, "UNSELECT completed");
}

/* ---- COPY / MOVE ---- */

static bool dir_exists(const char *dir)
{
	char *p = xasprintf("%s/cur", dir);
	struct stat st;
	bool r = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return r;
}

struct src {
	int fd;
	uint32_t uid, flags;
	int64_t idate;
	char *kw;
	char *path;	/* its file when gathered (MOVE links it, see mi_add_link) */
};

/* Open the source files under the source lock, so the target can be locked
 * afterwards without holding both (no lock-order deadlock between sessions). */
static size_t gather(struct session *s, struct mi *mi, size_t *idx, size_t n, struct src *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct vmsg *m = &s->sel->m[idx[i]];
		struct mi_rec rec;
		if (m->gone || mi_get(mi, m->uid, &rec) != 1)
			continue;
		char *p = mi_path(mi, &rec);
		int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0)
			out[k++] = (struct src){ fd, m->uid, rec.flags, rec.idate, xstrdup(rec.keywords), p };
		else
			free(p);
		mi_rec_clear(&rec);
	}
	return k;
}

static void do_copy(struct session *s, struct ip *ip, bool uid, bool move)
{
	struct seqset set = { 0 };
	char *setstr = NULL, *name = NULL;
	if (!ip_sp(ip) || !(setstr = ip_until(ip, " ")) || !seqset_parse(setstr, &set) || !ip_sp(ip) ||
	    !(name = arg_mailbox(ip)) || !ip_eol(ip)) {
		s_bad(s, "Syntax: %s set mailbox", move ? "MOVE" : "COPY");
		goto out;
	}
	char *dir = folder_dir(name);
	if (!dir || !dir_exists(dir)) {
		free(dir);
		s_no(s, "[TRYCREATE] No such mailbox");
		goto out;
	}
	if (move && s->sel->readonly) {
		free(dir);
		s_no(s, "[READ-ONLY] Mailbox is read-only");
		goto out;
	}
	struct mi *mi = view_sync(s, uid);
	if (!mi) {
		free(dir);
		s_no(s, "[SERVERBUG] Cannot open mailbox");
		goto out;
	}
	if (!uid && !view_seqs_valid(s->sel, &set)) {
		mi_close(mi);
		free(dir);
		s_bad(s, "Invalid message sequence number");
		goto out;
	}
	size_t *idx;
	size_t n = view_resolve(s->sel, &set, uid, &idx);
	struct src *src = xcalloc(n + 1, sizeof *src);
	size_t ns = gather(s, mi, idx, n, src);
	uint64_t bytes = 0;
	for (size_t i = 0; i < ns; i++) {
		struct stat st;
		if (fstat(src[i].fd, &st) == 0)
			bytes += (uint64_t)st.st_size;
	}
	if (over_quota(s, move ? 0 : bytes)) {
		for (size_t i = 0; i < ns; i++) {
			close(src[i].fd);
			free(src[i].kw);
			free(src[i].path);
		}
		mi_close(mi);
		free(src);
		free(idx);
		free(dir);
		goto out;
	}
	bool same = !strcmp(dir, s->sel->dir);
	if (!same)
		mi_close(mi);
	char why[256];
	struct mi *dst = same ? mi : mi_open(dir, NULL, NULL, why, sizeof why);
	uint32_t *su = xcalloc(ns + 1, sizeof *su), *du = xcalloc(ns + 1, sizeof *du);
	size_t done = 0;
	uint32_t uv = dst ? mi_header(dst)->uidvalidity : 0;
	for (size_t i = 0; dst && i < ns; i++) {
		uint32_t nu;
		/* a MOVE keeps the file's name (and EMAILID) where it can */
		bool linked = move && !same &&
			      mi_add_link(dst, src[i].path, src[i].flags, src[i].kw, src[i].idate, &nu) == 0;
		if (linked || mi_add_fd(dst, src[i].fd, src[i].flags, src[i].kw, src[i].idate, &nu) == 0) {
			su[done] = src[i].uid;
			du[done++] = nu;
		}
	}
	for (size_t i = 0; i < ns; i++) {
		close(src[i].fd);
		free(src[i].kw);
		free(src[i].path);
	}
	if (!same)
		mi_close(dst);
	struct evbuffer *code = evbuffer_new();
	if (done) {
		evbuffer_add_printf(code, "[COPYUID %u ", uv);
		s_uid_set(code, su, done);
		evbuffer_add(code, " ", 1);
		s_uid_set(code, du, done);
		evbuffer_add(code, "] ", 2);
	}
	evbuffer_add(code, "", 1);
	const char *codestr = (const char *)evbuffer_pullup(code, -1);
	if (!dst || done < ns) {
		s_no(s, "[SERVERBUG] %s failed", move ? "MOVE" : "COPY");
		if (same)
			mi_close(mi);
	} else if (!move) {
		if (same)
			mi_close(view_sync_reuse(s, mi));
		s_ok(s, "%sCOPY completed", codestr);
	} else {
		/* MOVE: report the new UIDs first, then expunge the originals */
		s_out(s, "* OK %sMoved", codestr);
		struct mi *again = same ? mi : view_sync(s, true);
		if (again) {
			size_t *gone = xcalloc(s->sel->n + 1, sizeof *gone), ng = 0;
			for (size_t i = 0; i < s->sel->n; i++)
				for (size_t k = 0; k < done; k++)
					if (s->sel->m[i].uid == su[k])
						gone[ng++] = i;
			expunge_indexes(s, again, gone, ng, false);
			free(gone);
			if (same)
				mi_close(view_sync_reuse(s, again));
			else
				mi_close(again);
		}
		s_ok(s, "MOVE completed");
	}
	evbuffer_free(code);
	free(su);
	free(du);
	free(src);
	free(idx);
	free(dir);
out:
	free(setstr);
	free(name);
	seqset_free(&set);
}

void cmd_copy(struct session *s, struct ip *ip, bool uid)
{
	do_copy(s, ip, uid, false);
}

void cmd_move(struct session *s, struct ip *ip, bool uid)
{
	do_copy(s, ip, uid, true);
}
