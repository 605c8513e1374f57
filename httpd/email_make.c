/* email_make.c — building a message from an Email object (Email/set
 * create, RFC 8621 4.6) and storing new messages (see email_make.h). The
 * writer does the encoding: RFC 2047 words for non-ASCII header text,
 * quoted-printable for text that is not 7bit, base64 for blobs, RFC 2231
 * file names; every header value is checked for CR and LF. */
#include "httpd/email_make.h"
#include "httpd/blob.h"
#include "httpd/email.h"
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/seal.h"
#include "httpd/sess.h"
#include "common/maildate.h"
#include "common/mailindex.h"
#include "common/mime.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAKE_DEPTH 10

struct mk {
	struct jcall *c;
	json_t *obj;
	struct evbuffer *out;
	json_t *err;
};

static void fail(struct mk *m, const char *desc, const char *prop)
{
	if (!m->err)
		m->err = jmap_set_error("invalidProperties", desc, prop);
}

static bool ascii_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80 || (unsigned char)*s < 0x20)
			return false;
	return true;
}

static bool has_crlf(const char *s)
{
	return strchr(s, '\r') || strchr(s, '\n');
}

/* RFC 2047 B words for s (common/mime_encode.c). */
static void encoded_words(struct evbuffer *b, const char *s)
{
	char *w = mime_encode_words(s);
	evbuffer_add(b, w, strlen(w));
	free(w);
}

static void text_value(struct evbuffer *b, const char *s)
{
	char *t = mime_header_text(s);
	evbuffer_add(b, t, strlen(t));
	free(t);
}

/* A display name: as it is when plain, quoted when it has specials, else
 * encoded words. */
static void phrase(struct evbuffer *b, const char *s)
{
	if (!ascii_text(s) || strstr(s, "=?")) {
		encoded_words(b, s);
	} else if (strpbrk(s, "()<>[]:;@\\,.\"")) {
		evbuffer_add(b, "\"", 1);
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				evbuffer_add(b, "\\", 1);
			evbuffer_add(b, s, 1);
		}
		evbuffer_add(b, "\"", 1);
	} else {
		evbuffer_add(b, s, strlen(s));
	}
}

static bool addresses(struct mk *m, struct evbuffer *b, json_t *list, const char *prop)
{
	if (!json_is_array(list)) {
		fail(m, "an array of EmailAddress", prop);
		return false;
	}
	size_t i;
	json_t *a;
	json_array_foreach(list, i, a) {
		const char *name = json_string_value(json_object_get(a, "name"));
		const char *email = json_string_value(json_object_get(a, "email"));
		if (!email || !strchr(email, '@') || has_crlf(email) || strpbrk(email, "<>, \t") ||
		    (name && has_crlf(name))) {
			fail(m, "an address is not valid", prop);
			return false;
		}
		if (i)
			evbuffer_add(b, ",\r\n ", 4);
		if (name && *name) {
			phrase(b, name);
			evbuffer_add_printf(b, " <%s>", email);
		} else {
			evbuffer_add_printf(b, "%s", email);
		}
	}
	return true;
}

static bool msgids(struct mk *m, struct evbuffer *b, json_t *list, const char *prop)
{
	size_t i;
	json_t *v;
	if (!json_is_array(list)) {
		fail(m, "an array of message ids", prop);
		return false;
	}
	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);
		if (!s || !*s || has_crlf(s) || strpbrk(s, "<> \t")) {
			fail(m, "a message id is not valid", prop);
			return false;
		}
		evbuffer_add_printf(b, "%s<%s>", i ? " " : "", s);
	}
	return true;
}

/* The convenience properties and header:Name:asForm properties. */
static void headers(struct mk *m, json_t *o, bool top)
{
	static const struct { const char *prop, *field; char kind; } conv[] = {
		{ "from", "From", 'a' }, { "sender", "Sender", 'a' }, { "replyTo", "Reply-To", 'a' },
		{ "to", "To", 'a' }, { "cc", "Cc", 'a' }, { "bcc", "Bcc", 'a' },
		{ "messageId", "Message-ID", 'i' }, { "inReplyTo", "In-Reply-To", 'i' },
		{ "references", "References", 'i' }, { "subject", "Subject", 't' },
	};
	struct evbuffer *b = m->out;
	for (size_t i = 0; top && i < ARRAY_LEN(conv); i++) {
		json_t *v = json_object_get(o, conv[i].prop);
		if (!v || json_is_null(v))
			continue;
		evbuffer_add_printf(b, "%s: ", conv[i].field);
		if (conv[i].kind == 'a')
			addresses(m, b, v, conv[i].prop);
		else if (conv[i].kind == 'i')
			msgids(m, b, v, conv[i].prop);
		else if (!json_is_string(v) || has_crlf(json_string_value(v)))
			fail(m, "a string without line breaks", conv[i].prop);
		else
			text_value(b, json_string_value(v));
		evbuffer_add(b, "\r\n", 2);
	}
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		if (strncmp(k, "header:", 7))
			continue;
		char *spec = xstrdup(k + 7), *form = strchr(spec, ':');
		if (form)
			*form++ = '\0';
		bool bad = !*spec || strpbrk(spec, " \t\r\n:") || (form && strcmp(form, "asRaw") &&
			   strcmp(form, "asText") && strcmp(form, "asAddresses") && strcmp(form, "asMessageIds"));
		if (bad) {
			fail(m, "a header property this server cannot write", k);
		} else {
			evbuffer_add_printf(b, "%s: ", spec);
			if (form && !strcmp(form, "asAddresses"))
				addresses(m, b, v, k);
			else if (form && !strcmp(form, "asMessageIds"))
				msgids(m, b, v, k);
			else if (!json_is_string(v) || has_crlf(json_string_value(v)))
				fail(m, "a string without line breaks", k);
			else if (form && !strcmp(form, "asText"))
				text_value(b, json_string_value(v));
			else
				evbuffer_add(b, json_string_value(v), strlen(json_string_value(v)));
			evbuffer_add(b, "\r\n", 2);
		}
		free(spec);
	}
}

/* ---- bodies ---- */

static void boundary(char out[40])
{
	unsigned char r[12];
	if (RAND_bytes(r, sizeof r) != 1)
		memset(r, 7, sizeof r);
	snprintf(out, 40, "=_tern_");
	for (int i = 0; i < 12; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", r[i]);
}

/* Quoted-printable (RFC 2045 6.7) with CRLF line ends. */
static void qp(struct evbuffer *b, const char *s, size_t n)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\r')
			continue;
		if (ch == '\n') {
			evbuffer_add(b, "\r\n", 2);
			col = 0;
			continue;
		}
		bool next_eol = i + 1 >= n || s[i + 1] == '\n' || s[i + 1] == '\r';
		bool lit = (ch >= 33 && ch <= 126 && ch != '=') || ((ch == ' ' || ch == '\t') && !next_eol);
		size_t w = lit ? 1 : 3;
		if (col + w > 75) {
			evbuffer_add(b, "=\r\n", 3);
			col = 0;
		}
		if (lit)
			evbuffer_add(b, &s[i], 1);
		else
			evbuffer_add_printf(b, "=%02X", ch);
		col += w;
	}
	evbuffer_add(b, "\r\n", 2);
}

static void base64(struct evbuffer *b, const unsigned char *s, size_t n)
{
	unsigned char line[80];
	for (size_t i = 0; i < n; i += 57) {
		int len = EVP_EncodeBlock(line, s + i, (int)(n - i > 57 ? 57 : n - i));
		evbuffer_add(b, line, (size_t)len);
		evbuffer_add(b, "\r\n", 2);
	}
}

/* Does text need an encoding (non-ASCII, or a line over 998 octets)? */
static bool needs_qp(const char *s, size_t n)
{
	size_t line = 0;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80 || ++line > 998)
			return true;
		if (s[i] == '\n')
			line = 0;
	}
	return false;
}

/* A file name parameter: plain when it may be, else RFC 2231. */
static void filename_param(struct evbuffer *b, const char *param, const char *name)
{
	if (ascii_text(name) && !strpbrk(name, "\"\\")) {
		evbuffer_add_printf(b, ";\r\n %s=\"%s\"", param, name);
		return;
	}
	evbuffer_add_printf(b, ";\r\n %s*=UTF-8''", param);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("!#$&+-.^_`|~", *p))
			evbuffer_add(b, p, 1);
		else
			evbuffer_add_printf(b, "%%%02X", *p);
}

static bool plain_token(const char *s)
{
	if (!*s || strlen(s) > 200)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("!#$&^_.+-/", *s)))
			return false;
	return true;
}

static void part(struct mk *m, json_t *p, int depth);

static void multipart(struct mk *m, const char *type, json_t **parts, size_t n, int depth)
{
	char bnd[40];
	boundary(bnd);
	evbuffer_add_printf(m->out, "Content-Type: %s;\r\n boundary=\"%s\"\r\n\r\n", type, bnd);
	for (size_t i = 0; i < n; i++) {
		evbuffer_add_printf(m->out, "--%s\r\n", bnd);
		part(m, parts[i], depth + 1);
	}
	evbuffer_add_printf(m->out, "--%s--\r\n", bnd);
}

/* The content of a leaf: a body value (partId) or a blob (blobId). */
static void leaf(struct mk *m, json_t *p, const char *type)
{
	const char *pid = json_string_value(json_object_get(p, "partId"));
	const char *bid = json_string_value(json_object_get(p, "blobId"));
	const char *name = json_string_value(json_object_get(p, "name"));
	const char *disp = json_string_value(json_object_get(p, "disposition"));
	const char *cid = json_string_value(json_object_get(p, "cid"));
	bool text = !strncasecmp(type, "text/", 5);
	evbuffer_add_printf(m->out, "Content-Type: %s%s", type, text ? "; charset=utf-8" : "");
	if (name)
		filename_param(m->out, "name", name);
	evbuffer_add(m->out, "\r\n", 2);
	if (disp || name) {
		evbuffer_add_printf(m->out, "Content-Disposition: %s", disp && plain_token(disp) ? disp
								: "attachment");
		if (name)
			filename_param(m->out, "filename", name);
		evbuffer_add(m->out, "\r\n", 2);
	}
	if (cid && !has_crlf(cid) && !strpbrk(cid, "<> "))
		evbuffer_add_printf(m->out, "Content-ID: <%s>\r\n", cid);
	if (pid) {
		json_t *bv = json_object_get(json_object_get(m->obj, "bodyValues"), pid);
		const char *val = json_string_value(json_object_get(bv, "value"));
		if (!val || !text) {
			fail(m, "a partId names no body value (or the part is not text)", "bodyValues");
			return;
		}
		size_t n = strlen(val);
		if (needs_qp(val, n)) {
			evbuffer_add_printf(m->out, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
			qp(m->out, val, n);
		} else {
			evbuffer_add(m->out, "\r\n", 2);
			for (size_t i = 0; i < n; i++) {
				if (val[i] == '\n' && (i == 0 || val[i - 1] != '\r'))
					evbuffer_add(m->out, "\r", 1);
				evbuffer_add(m->out, &val[i], 1);
			}
			evbuffer_add(m->out, "\r\n", 2);
		}
		return;
	}
	if (!bid && text) {
		evbuffer_add(m->out, "\r\n", 2);	/* a text part without content */
		return;
	}
	int fd;
	size_t len;
	if (!bid || blob_open(m->c->s, bid, &fd, &len) < 0) {
		if (!m->err)
			m->err = json_pack("{s:s, s:[s]}", "type", "blobNotFound", "notFound",
					   bid ? bid : "");
		return;
	}
	void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (len && map == MAP_FAILED) {
		fail(m, "the blob cannot be read", "attachments");
		return;
	}
	evbuffer_add_printf(m->out, "Content-Transfer-Encoding: base64\r\n\r\n");
	base64(m->out, map, len);
	if (len)
		munmap(map, len);
}

static void part(struct mk *m, json_t *p, int depth)
{
	const char *type = json_string_value(json_object_get(p, "type"));
	json_t *subs = json_object_get(p, "subParts");
	if (depth > MAKE_DEPTH || !json_is_object(p)) {
		fail(m, "a body part is not valid", "bodyStructure");
		return;
	}
	if (!type)
		type = json_object_get(p, "blobId") ? "application/octet-stream" : "text/plain";
	if (!plain_token(type) || !strchr(type, '/')) {
		fail(m, "a part's type is not valid", "bodyStructure");
		return;
	}
	headers(m, p, false);
	if (!strncasecmp(type, "multipart/", 10)) {
		size_t n = json_array_size(subs);
		json_t **parts = xcalloc(n + 1, sizeof *parts);
		for (size_t i = 0; i < n; i++)
			parts[i] = json_array_get(subs, i);
		multipart(m, type, parts, n, depth);
		free(parts);
	} else {
		leaf(m, p, type);
	}
}

/* textBody / htmlBody / attachments into one structure (RFC 8621 4.6). */
static void from_lists(struct mk *m)
{
	json_t *text = json_array_get(json_object_get(m->obj, "textBody"), 0);
	json_t *html = json_array_get(json_object_get(m->obj, "htmlBody"), 0);
	json_t *att = json_object_get(m->obj, "attachments");
	json_t *body = NULL;
	if (text && html)
		body = json_pack("{s:s, s:[O,O]}", "type", "multipart/alternative", "subParts", text, html);
	else
		body = json_incref(text ? text : html ? html : NULL);
	if (!body)
		body = json_pack("{s:s}", "type", "text/plain");	/* empty */
	if (json_array_size(att)) {
		json_t *mixed = json_pack("{s:s, s:[O]}", "type", "multipart/mixed", "subParts", body);
		json_array_extend(json_object_get(mixed, "subParts"), att);
		json_decref(body);
		body = mixed;
	}
	part(m, body, 0);
	json_decref(body);
}

/* ---- storing ---- */

static const char *const create_props[] = {
	"mailboxIds", "keywords", "receivedAt", "messageId", "inReplyTo", "references", "sender",
	"from", "to", "cc", "bcc", "replyTo", "subject", "sentAt", "bodyStructure", "bodyValues",
	"textBody", "htmlBody", "attachments", "headers", NULL,
};

static bool known_create_prop(const char *k)
{
	for (const char *const *p = create_props; *p; p++)
		if (!strcmp(*p, k))
			return true;
	return !strncmp(k, "header:", 7);
}

const struct folder *email_target(struct jcall *c, json_t *mbs, json_t **err)
{
	if (!json_is_object(mbs) || json_object_size(mbs) != 1) {
		*err = json_object_size(mbs) > 1 ? jmap_set_error("tooManyMailboxes", NULL, "mailboxIds")
						 : jmap_set_error("invalidProperties", "one mailbox",
								  "mailboxIds");
		return NULL;
	}
	void *it = json_object_iter(mbs);
	const char *id = jmap_resolve_id(c, json_object_iter_key(it));
	const struct folder *f = id && json_is_true(json_object_iter_value(it))
				 ? account_folder(&c->s->acct, id) : NULL;
	if (!f)
		*err = jmap_set_error("invalidProperties", "no such mailbox", "mailboxIds");
	return f;
}

/* Store the message in fd (any line ends) in f with the keywords and date
 * of obj; the new Email's id, blobId, threadId and size, or NULL with *err. */
json_t *email_store(struct jcall *c, const char *cid, const struct folder *f, json_t *obj, int fd,
		    json_t **err)
{
	uint32_t flags = 0;
	char *kw = NULL;
	json_t *kws = json_object_get(obj, "keywords");
	json_t *ra = json_object_get(obj, "receivedAt");
	int64_t idate = (int64_t)time(NULL);
	if (kws && !email_keywords_to_flags(kws, &flags, &kw)) {
		*err = jmap_set_error("invalidProperties", NULL, "keywords");
		return NULL;
	}
	if (ra && !maildate_parse_rfc3339(json_string_value(ra), &idate)) {
		free(kw);
		*err = jmap_set_error("invalidProperties", "a UTCDate", "receivedAt");
		return NULL;
	}
	char why[256];
	uint32_t uid;
	struct mi *mi = mi_open(f->dir, NULL, NULL, why, sizeof why);
	struct mi_rec r = { 0 };
	const char *refused = NULL;
	int ok = mi && seal_add(mi, f->dir, c->s->user, fd, flags, kw ? kw : "", idate, &uid,
				&refused) == 0 && mi_get(mi, uid, &r) == 1;
	if (mi)
		mi_close(mi);
	free(kw);
	if (!ok) {
		*err = refused ? jmap_set_error("forbidden", refused, NULL)
			       : jmap_set_error("serverFail", why[0] && !mi ? why : "cannot store the message",
						NULL);
		return NULL;
	}
	char id[OBJECTID_LEN + 1], blob[64], thread[OBJECTID_LEN + 1];
	objectid_email(r.file, id);
	email_blob_id(id, blob);
	account_sync(&c->s->acct);
	account_thread_of(id, thread);
	jmap_created(c, cid, id);
	json_t *out = json_pack("{s:s, s:s, s:s, s:I}", "id", id, "blobId", blob, "threadId", thread,
				"size", (json_int_t)r.size);
	mi_rec_clear(&r);
	return out;
}

json_t *email_create(struct jcall *c, const char *cid, json_t *obj, json_t **err)
{
	*err = NULL;
	if (!json_is_object(obj)) {
		*err = jmap_set_error("invalidProperties", NULL, NULL);
		return NULL;
	}
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
		if (!known_create_prop(k)) {
			*err = jmap_set_error("invalidProperties", "not a property to create with", k);
			return NULL;
		}
	const struct folder *f = email_target(c, json_object_get(obj, "mailboxIds"), err);
	if (!f)
		return NULL;
	struct mk m = { .c = c, .obj = obj, .out = evbuffer_new() };
	char date[40];
	int64_t sent = (int64_t)time(NULL);
	json_t *sa = json_object_get(obj, "sentAt");
	if (sa && !maildate_parse_rfc3339(json_string_value(sa), &sent))
		fail(&m, "a Date", "sentAt");
	maildate_rfc5322(sent, 0, date);
	evbuffer_add_printf(m.out, "Date: %s\r\n", date);
	if (!json_object_get(obj, "messageId")) {
		unsigned char r[12];
		RAND_bytes(r, sizeof r);
		const char *at = strchr(c->s->user, '@');
		evbuffer_add_printf(m.out, "Message-ID: <");
		for (int i = 0; i < 12; i++)
			evbuffer_add_printf(m.out, "%02x", r[i]);
		evbuffer_add_printf(m.out, "@%s>\r\n", at ? at + 1 : "localhost");
	}
	headers(&m, obj, true);
	evbuffer_add_printf(m.out, "MIME-Version: 1.0\r\n");
	json_t *bs = json_object_get(obj, "bodyStructure");
	if (bs)
		part(&m, bs, 0);
	else
		from_lists(&m);
	json_t *out = NULL;
	if (m.err) {
		*err = m.err;
	} else if (evbuffer_get_length(m.out) > c->s->conf->lim.max_size_upload) {
		*err = jmap_set_error("tooLarge", "the message is larger than maxSizeUpload", NULL);
	} else {
		int fd = memfd_create("email", MFD_CLOEXEC);
		size_t n = evbuffer_get_length(m.out);
		if (fd >= 0 && write_all(fd, evbuffer_pullup(m.out, -1), n) == 0)
			out = email_store(c, cid, f, obj, fd, err);
		else
			*err = jmap_set_error("serverFail", NULL, NULL);
		if (fd >= 0)
			close(fd);
	}
	evbuffer_free(m.out);
	return out;
}
