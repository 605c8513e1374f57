/* cmd_metadata.c — GETMETADATA and SETMETADATA (RFC 5464) on the files
 * metadata.c keeps: a folder's beside its index, the server's at the root.
 * Limits are announced as the RFC says: a value over MD_MAX_VALUE gets
 * NO [METADATA MAXSIZE n], a folder past MD_MAX_ENTRIES NO [METADATA
 * TOOMANY]; GETMETADATA's MAXSIZE leaves longer values out and says how long
 * the longest was (OK [METADATA LONGENTRIES n]). */
#include "imapd/commands.h"
#include "imapd/metadata.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* The directory and file holding mailbox's entries ("" = the server's);
 * false (with the NO sent) if the folder does not exist. */
static bool md_where(struct session *s, const char *mailbox, char **dir, char **path)
{
	if (!mailbox[0]) {
		*dir = xstrdup(".");
		*path = xstrdup(MD_SERVER_FILE);
		return true;
	}
	*dir = ms_exists(mailbox) ? folder_dir(mailbox) : NULL;
	if (!*dir) {
		s_no(s, "[NONEXISTENT] No such mailbox");
		return false;
	}
	*path = xasprintf("%s/%s", *dir, MD_FILE);
	return true;
}

/* A value as the shortest form that carries it: quoted when printable
 * ASCII, else a literal (literal8 if it holds NUL, RFC 5464 5). */
static void put_value(struct evbuffer *b, const char *v, size_t len)
{
	bool printable = len <= 1024, nul = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		printable &= c >= 0x20 && c < 0x7f;
		nul |= c == 0;
	}
	if (!printable) {
		evbuffer_add_printf(b, "%s{%zu}\r\n", nul ? "~" : "", len);
		evbuffer_add(b, v, len);
		return;
	}
	evbuffer_add(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '"' || v[i] == '\\')
			evbuffer_add(b, "\\", 1);
		evbuffer_add(b, v + i, 1);
	}
	evbuffer_add(b, "\"", 1);
}

/* An entry name as an astring: an atom as the RFC's examples show it, quoted
 * when it holds what an atom cannot (a space, a quote, ...). */
static void put_name(struct evbuffer *b, const char *name)
{
	bool atom = true;
	for (const char *p = name; *p; p++)
		atom &= *p > 0x20 && *p < 0x7f && !strchr("(){%*\"\\", *p);
	if (atom)
		evbuffer_add(b, name, strlen(name));
	else
		put_value(b, name, strlen(name));
}

/* The entries the request names, each once, in b; *longest: the largest
 * value left out by MAXSIZE. Returns the number of entries written. */
static size_t md_collect(const struct md_req *r, const struct md_set *set, struct evbuffer *b,
			 uint64_t *longest)
{
	bool *sent = xcalloc(set->n + 1, 1);
	size_t out = 0;
	for (size_t i = 0; i < r->nentries; i++) {
		bool any = false;
		for (size_t k = 0; k < set->n; k++) {
			const struct md_entry *e = &set->e[k];
			if (!md_matches(r->entries[i], e->name, r->depth))
				continue;
			any = true;
			if (e->len > r->maxsize) {
				*longest = e->len > *longest ? e->len : *longest;
				continue;
			}
			if (sent[k])
				continue;
			sent[k] = true;
			if (out++)
				evbuffer_add(b, " ", 1);
			put_name(b, e->name);
			evbuffer_add(b, " ", 1);
			put_value(b, e->value, e->len);
		}
		if (!any) {	/* RFC 5464 4.2: an entry asked for and absent is NIL */
			if (out++)
				evbuffer_add(b, " ", 1);
			put_name(b, r->entries[i]);
			evbuffer_add(b, " NIL", 4);
		}
	}
	free(sent);
	return out;
}

void cmd_getmetadata(struct session *s, struct ip *ip, bool uid)
{
	(void)uid;
	struct md_req r;
	const char *why;
	char *dir = NULL, *path = NULL;
	struct md_set set = { 0 };
	if (md_parse_get(ip, &r, &why) < 0) {
		s_bad(s, "%s", why);
	} else if (md_where(s, r.mailbox, &dir, &path)) {
		if (md_load(path, &set) < 0) {
			s_no(s, "[SERVERBUG] Cannot read metadata");
		} else {
			uint64_t longest = 0;
			struct evbuffer *items = evbuffer_new();
			if (md_collect(&r, &set, items, &longest)) {
				struct evbuffer *line = evbuffer_new();
				evbuffer_add(line, "* METADATA ", 11);
				if (r.mailbox[0])
					s_mailbox(s, line, r.mailbox);
				else
					evbuffer_add(line, "\"\"", 2);
				evbuffer_add(line, " (", 2);
				evbuffer_add_buffer(line, items);
				evbuffer_add(line, ")\r\n", 3);
				evbuffer_add_buffer(s_buf(s), line);
				evbuffer_free(line);
			}
			evbuffer_free(items);
			if (longest)
				s_ok(s, "[METADATA LONGENTRIES %llu] GETMETADATA completed",
				     (unsigned long long)longest);
			else
				s_ok(s, "GETMETADATA completed");
		}
	}
	md_free(&set);
	free(dir);
	free(path);
	md_req_free(&r);
}

void cmd_setmetadata(struct session *s, struct ip *ip, bool uid)
{
	(void)uid;
	struct md_req r;
	const char *why;
	char *dir = NULL, *path = NULL;
	if (md_parse_set(ip, &r, &why) < 0) {
		s_bad(s, "%s", why);
	} else if (r.longest > MD_MAX_VALUE) {
		s_no(s, "[METADATA MAXSIZE %u] Value too long", (unsigned)MD_MAX_VALUE);
	} else if (md_where(s, r.mailbox, &dir, &path)) {
		int rc = md_update(dir, path, &r.changes);
		if (rc == -2)
			s_no(s, "[METADATA TOOMANY] At most %d entries per mailbox", MD_MAX_ENTRIES);
		else if (rc < 0)
			s_no(s, "[SERVERBUG] Cannot store metadata");
		else
			s_ok(s, "SETMETADATA completed");
	}
	free(dir);
	free(path);
	md_req_free(&r);
}
