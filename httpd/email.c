/* email.c — opening a message for JMAP and its Email object (see email.h). */
#include "httpd/email.h"
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "common/maildate.h"
#include "common/mime.h"
#include "common/mime_stream.h"
#include "common/util.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const email_props[] = {
	"id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt", "messageId",
	"inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject",
	"sentAt", "hasAttachment", "preview", "bodyValues", "textBody", "htmlBody", "attachments",
	"headers", "bodyStructure", "header:", NULL,
};

const char *const email_body_props[] = {
	"partId", "blobId", "size", "headers", "name", "type", "charset", "disposition", "cid",
	"language", "location", "subParts", "header:", NULL,
};

static const char *const default_props[] = {
	"id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt", "messageId",
	"inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject",
	"sentAt", "hasAttachment", "preview", "bodyValues", "textBody", "htmlBody", "attachments",
	NULL,
};

/* The convenience properties and the header form each is (RFC 8621 4.1.3). */
static const struct { const char *prop, *field, *form; } convenience[] = {
	{ "messageId", "Message-ID", "MessageIds" }, { "inReplyTo", "In-Reply-To", "MessageIds" },
	{ "references", "References", "MessageIds" }, { "sender", "Sender", "Addresses" },
	{ "from", "From", "Addresses" }, { "to", "To", "Addresses" }, { "cc", "Cc", "Addresses" },
	{ "bcc", "Bcc", "Addresses" }, { "replyTo", "Reply-To", "Addresses" },
	{ "subject", "Subject", "Text" }, { "sentAt", "Date", "Date" },
};

bool email_open(struct sess *s, struct journal *j, const char *id, struct email *e)
{
	memset(e, 0, sizeof *e);
	e->fd = -1;
	uint32_t uid;
	if (!account_locate(j, &s->acct, id, &e->f, &uid))
		return false;
	char why[256];
	struct mi *mi = mi_open(e->f->dir, NULL, NULL, why, sizeof why);
	if (!mi)
		return false;
	bool ok = mi_get(mi, uid, &e->rec) == 1;
	if (ok)
		e->path = mi_path(mi, &e->rec);
	mi_close(mi);
	if (!ok)
		return false;
	strlcpy_t(e->id, id, sizeof e->id);
	account_thread_of(id, e->thread);
	return true;
}

bool email_find(struct sess *s, const char *id, struct email *e)
{
	struct journal *j = journal_open(false);
	bool ok = j && email_open(s, j, id, e);
	journal_close(j);
	return ok;
}

bool email_parse(struct email *e)
{
	if (e->m)
		return true;
	e->fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (e->fd < 0)
		return false;
	e->m = mime_parse_fd(e->fd, UINT64_MAX, &e->crlf_len);
	return e->m != NULL;
}

bool email_of_blob(struct email *e, const char *blob_id, int fd, size_t len)
{
	memset(e, 0, sizeof *e);
	e->fd = fd;
	e->blob = blob_id;
	e->blob_len = len;
	if (!email_blob_is_message(fd, len))
		return false;
	e->m = mime_parse_fd(fd, UINT64_MAX, &e->crlf_len);
	return e->m != NULL;
}

bool email_blob_is_message(int fd, size_t len)
{
	char buf[1000];
	ssize_t n = len ? pread(fd, buf, sizeof buf, 0) : 0;
	ssize_t i = 0;
	while (i < n && buf[i] > ' ' && buf[i] < 127 && buf[i] != ':')
		i++;
	return i > 0 && i < n && buf[i] == ':';
}

void email_close(struct email *e)
{
	if (e->m)
		mime_stream_free(e->m);
	if (e->fd >= 0)
		close(e->fd);
	free(e->path);
	mi_rec_clear(&e->rec);
	memset(e, 0, sizeof *e);
	e->fd = -1;
}

json_t *email_keywords(const struct mi_rec *r)
{
	static const struct { uint32_t flag; const char *kw; } flags[] = {
		{ MI_SEEN, "$seen" }, { MI_FLAGGED, "$flagged" }, { MI_ANSWERED, "$answered" },
		{ MI_DRAFT, "$draft" },
	};
	json_t *k = json_object();
	for (size_t i = 0; i < ARRAY_LEN(flags); i++)
		if (r->flags & flags[i].flag)
			json_object_set_new(k, flags[i].kw, json_true());
	char *copy = xstrdup(r->keywords ? r->keywords : ""), *save = NULL;
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		for (char *p = w; *p; p++)
			*p = (char)tolower((unsigned char)*p);	/* keywords are case-insensitive */
		if (jmap_valid_id(w) || w[0] == '$')
			json_object_set_new(k, w, json_true());
	}
	free(copy);
	return k;
}

static bool needs_file(json_t *props)
{
	static const char *const meta[] = { "id", "blobId", "threadId", "mailboxIds", "keywords",
					    "size", "receivedAt", NULL };
	size_t i;
	json_t *v;
	json_array_foreach(props, i, v) {
		const char *const *m = meta;
		while (*m && strcmp(*m, json_string_value(v)))
			m++;
		if (!*m)
			return true;
	}
	return false;
}

/* RFC 8621 4.9: a parsed blob is in no mailbox and has no id, keywords,
 * received date or thread (this server does not guess one). */
static void blob_metadata(const struct email *e, json_t *props, json_t *o)
{
	static const char *const none[] = { "id", "threadId", "mailboxIds", "keywords",
					    "receivedAt", NULL };
	for (size_t i = 0; none[i]; i++)
		if (json_has_string(props, none[i]))
			json_object_set_new(o, none[i], json_null());
	if (json_has_string(props, "blobId"))
		json_object_set_new(o, "blobId", json_string(e->blob));
	if (json_has_string(props, "size"))
		json_object_set_new(o, "size", json_integer((json_int_t)e->blob_len));
}

static void metadata(const struct email *e, json_t *props, json_t *o)
{
	if (e->blob) {
		blob_metadata(e, props, o);
		return;
	}
	char blob[64], date[32];
	email_blob_id(e->id, blob);
	maildate_rfc3339(e->rec.idate, 0, true, date);
	json_object_set_new(o, "id", json_string(e->id));
	if (json_has_string(props, "blobId"))
		json_object_set_new(o, "blobId", json_string(blob));
	if (json_has_string(props, "threadId"))
		json_object_set_new(o, "threadId", *e->thread ? json_string(e->thread) : json_null());
	if (json_has_string(props, "mailboxIds"))
		json_object_set_new(o, "mailboxIds", json_pack("{s:b}", e->f->id, 1));
	if (json_has_string(props, "keywords"))
		json_object_set_new(o, "keywords", email_keywords(&e->rec));
	if (json_has_string(props, "size"))
		json_object_set_new(o, "size", json_integer((json_int_t)e->rec.size));
	if (json_has_string(props, "receivedAt"))
		json_object_set_new(o, "receivedAt", json_string(date));
}

static void header_props(const struct email *e, json_t *props, json_t *o)
{
	const char *hdr = e->m->buf + e->m->root->hdr_off;
	size_t len = e->m->root->hdr_len;
	for (size_t i = 0; i < ARRAY_LEN(convenience); i++) {
		if (!json_has_string(props, convenience[i].prop))
			continue;
		char *p = xasprintf("header:%s:as%s", convenience[i].field, convenience[i].form);
		json_object_set_new(o, convenience[i].prop, email_header_prop(hdr, len, p));
		free(p);
	}
	if (json_has_string(props, "headers"))
		json_object_set_new(o, "headers", email_headers(hdr, len));
	size_t i;
	json_t *v;
	json_array_foreach(props, i, v) {
		const char *p = json_string_value(v);
		if (!strncmp(p, "header:", 7)) {
			json_t *h = email_header_prop(hdr, len, p);
			json_object_set_new(o, p, h ? h : json_null());
		}
	}
}

json_t *email_json(struct sess *s, struct email *e, const struct email_opts *o)
{
	json_t *props = o->props ? json_incref(o->props) : json_array();
	for (size_t i = 0; !o->props && default_props[i]; i++)
		json_array_append_new(props, json_string(default_props[i]));
	json_t *obj = json_object();
	metadata(e, props, obj);
	if (needs_file(props) && email_parse(e)) {
		header_props(e, props, obj);
		email_body_fill(e, o, props, obj);
	}
	json_decref(props);
	return obj;
}
