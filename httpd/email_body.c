/* email_body.c — the body of an Email (RFC 8621 4.1.4): its structure,
 * which parts are text, HTML and attachments (the RFC's algorithm), body
 * values, the preview, and the blobs of the message and of its parts. Part
 * ids count the leaf parts depth first ("1", "2", ...); a message/rfc822
 * part is a leaf (its content is an Email of its own: Email/parse). */
#include "httpd/email.h"
#include "httpd/blob.h"
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "common/mime.h"
#include "common/mime_stream.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#define TEXT_MAX (32u << 20)	/* a text part read for its value: at most */

/* ---- parts ---- */

struct leaf {
	const struct mime_part *p;
	unsigned n;
};

/* Walk the tree; fn sees every part with its leaf number (0 for multiparts). */
static void walk(const struct mime_part *p, unsigned *n,
		 void (*fn)(const struct mime_part *p, unsigned n, void *arg), void *arg)
{
	if (p->multipart) {
		fn(p, 0, arg);
		for (const struct mime_part *c = p->children; c; c = c->next)
			walk(c, n, fn, arg);
	} else {
		fn(p, ++*n, arg);
	}
}

static void find_leaf(const struct mime_part *p, unsigned n, void *arg)
{
	struct leaf *l = arg;
	if (n == l->n)
		l->p = p;
}

static const struct mime_part *leaf_of(const struct mime_msg *m, unsigned n)
{
	struct leaf l = { NULL, n };
	unsigned k = 0;
	walk(m->root, &k, find_leaf, &l);
	return l.p;
}

static void number_of(const struct mime_part *p, unsigned n, void *arg)
{
	struct leaf *w = arg;
	if (p == w->p)
		w->n = n;
}

static unsigned leaf_number(const struct mime_msg *m, const struct mime_part *want)
{
	struct leaf w = { want, 0 };
	unsigned k = 0;
	walk(m->root, &k, number_of, &w);
	return w.n;
}

static char *lower_dup(const char *s)
{
	char *d = xstrdup(s ? s : "");
	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

static char *part_type(const struct mime_part *p)
{
	char *t = xasprintf("%s/%s", p->type ? p->type : "text", p->subtype ? p->subtype : "plain");
	char *l = lower_dup(t);
	free(t);
	return l;
}

static char *part_name(const struct mime_part *p)
{
	char *n = mime_param_decoded(p->dparams, p->ndparams, "filename");
	return n ? n : mime_param_decoded(p->params, p->nparams, "name");
}

/* Bytes of the part's body, transfer-decoded (at most max); *len set. */
static char *part_bytes(struct email *e, const struct mime_part *p, size_t max, size_t *len,
			bool *problem)
{
	struct mstream_dec dec;
	if (!mstream_dec_init(&dec, p->enc)) {
		mstream_dec_init(&dec, NULL);	/* unknown encoding: as it is */
		*problem = true;
	}
	struct strbuf out = { 0 };
	strbuf_room(&out, (p->body_len < max ? p->body_len : max) + MSTREAM_DEC_SLACK);
	char buf[32768];
	struct crlf_reader r;
	crlf_reader_init(&r, e->fd, p->body_off, p->body_len);
	ssize_t got;
	while (out.len < max && (got = crlf_read(&r, buf, sizeof buf - MSTREAM_DEC_SLACK)) > 0) {
		char *d = strbuf_room(&out, (size_t)got + MSTREAM_DEC_SLACK);
		strbuf_commit(&out, mstream_dec_run(&dec, buf, (size_t)got, false, d));
	}
	char *d = strbuf_room(&out, MSTREAM_DEC_SLACK);
	strbuf_commit(&out, mstream_dec_run(&dec, "", 0, true, d));
	*len = out.len > max ? max : out.len;
	out.p[*len] = '\0';
	return strbuf_take(&out);
}

/* Transfer-decoded size without keeping the bytes. */
static uint64_t part_size(struct email *e, const struct mime_part *p)
{
	if (!p->enc || (strcasecmp(p->enc, "base64") && strcasecmp(p->enc, "quoted-printable")))
		return p->body_len;
	bool problem = false;
	size_t len;
	free(part_bytes(e, p, SIZE_MAX / 2, &len, &problem));
	return len;
}

char *email_part_text(struct email *e, const struct mime_part *p, size_t *len, bool *problem)
{
	size_t n;
	char *raw = part_bytes(e, p, TEXT_MAX, &n, problem);
	const char *cs = NULL;
	for (size_t i = 0; i < p->nparams; i++)
		if (!strcasecmp(p->params[i].name, "charset"))
			cs = p->params[i].value;
	char *u = mime_to_utf8(cs, raw, n);
	if (!u) {
		*problem = true;	/* unknown charset: the bytes as they are */
		*len = n;
		return raw;
	}
	free(raw);
	/* CRLF -> LF: body values are text, not wire form */
	size_t o = 0;
	for (size_t i = 0; u[i]; i++)
		if (!(u[i] == '\r' && u[i + 1] == '\n'))
			u[o++] = u[i];
	u[o] = '\0';
	*len = o;
	return u;
}

static size_t nesting(const char *blob_id)
{
	size_t n = 0;
	for (; *blob_id; blob_id++)
		n += *blob_id == '-';
	return n;
}

/* The blob id of leaf part n: of a stored message "P" + its id's digits +
 * "-N"; of a parsed blob that blob's id + "-N" (false when that would be
 * longer or deeper than a blob id may be). */
static bool part_blob_id(const struct email *e, unsigned n, char out[BLOB_ID_MAX + 1])
{
	int r = e->blob ? snprintf(out, BLOB_ID_MAX + 1, "%s-%u", e->blob, n)
			: snprintf(out, BLOB_ID_MAX + 1, "P%s-%u", e->id + 1, n);
	return r > 0 && r <= BLOB_ID_MAX && nesting(out) <= BLOB_NEST_MAX;
}

static json_t *header_list(const struct email *e, const struct mime_part *p)
{
	return email_headers(e->m->buf + p->hdr_off, p->hdr_len);
}

static json_t *part_json(struct email *e, const struct mime_part *p, json_t *bp)
{
	json_t *o = json_object();
	unsigned n = p->multipart ? 0 : leaf_number(e->m, p);
	char *type = part_type(p), blob[BLOB_ID_MAX + 1], num[16];
	if (json_has_string(bp, "partId")) {
		snprintf(num, sizeof num, "%u", n);
		json_object_set_new(o, "partId", n ? json_string(num) : json_null());
	}
	if (json_has_string(bp, "blobId"))
		json_object_set_new(o, "blobId", n && part_blob_id(e, n, blob) ? json_string(blob)
										 : json_null());
	if (json_has_string(bp, "size"))
		json_object_set_new(o, "size", json_integer(n ? (json_int_t)part_size(e, p) : 0));
	if (json_has_string(bp, "headers"))
		json_object_set_new(o, "headers", header_list(e, p));
	if (json_has_string(bp, "name")) {
		char *nm = part_name(p);
		json_object_set_new(o, "name", json_text(nm));
		free(nm);
	}
	if (json_has_string(bp, "type"))
		json_object_set_new(o, "type", json_string(type));
	if (json_has_string(bp, "charset")) {
		const char *cs = NULL;
		for (size_t i = 0; i < p->nparams; i++)
			if (!strcasecmp(p->params[i].name, "charset"))
				cs = p->params[i].value;
		json_object_set_new(o, "charset", cs ? json_text(cs) : !strncmp(type, "text/", 5)
				    ? json_string("us-ascii") : json_null());
	}
	if (json_has_string(bp, "disposition")) {
		char *d = p->disp ? lower_dup(p->disp) : NULL;
		json_object_set_new(o, "disposition", json_text(d));
		free(d);
	}
	if (json_has_string(bp, "cid")) {
		char *cid = p->id ? xstrdup(p->id + (p->id[0] == '<')) : NULL;
		if (cid && *cid && cid[strlen(cid) - 1] == '>')
			cid[strlen(cid) - 1] = '\0';
		json_object_set_new(o, "cid", json_text(cid));
		free(cid);
	}
	if (json_has_string(bp, "language")) {
		json_t *l = json_null();
		if (p->lang) {
			l = json_array();
			char *copy = xstrdup(p->lang), *save = NULL;
			for (char *w = strtok_r(copy, ", \t", &save); w; w = strtok_r(NULL, ", \t", &save))
				json_array_append_new(l, json_text(w));
			free(copy);
		}
		json_object_set_new(o, "language", l);
	}
	if (json_has_string(bp, "location"))
		json_object_set_new(o, "location", json_text(p->loc));
	size_t i;
	json_t *v;
	json_array_foreach(bp, i, v)
		if (!strncmp(json_string_value(v), "header:", 7)) {
			json_t *h = email_header_prop(e->m->buf + p->hdr_off, p->hdr_len,
						      json_string_value(v));
			json_object_set_new(o, json_string_value(v), h ? h : json_null());
		}
	if (p->multipart && json_has_string(bp, "subParts")) {
		json_t *subs = json_array();
		for (const struct mime_part *c = p->children; c; c = c->next)
			json_array_append_new(subs, part_json(e, c, bp));
		json_object_set_new(o, "subParts", subs);
	}
	free(type);
	return o;
}

/* ---- textBody, htmlBody, attachments (RFC 8621 4.1.4's algorithm) ---- */

struct lists {
	const struct mime_part **text, **html, **att;
	size_t nt, nh, na;
	bool no_text, no_html;	/* the list was dropped (null in the pseudo-code) */
};

static void push(const struct mime_part ***a, size_t *n, const struct mime_part *p)
{
	*a = xrealloc(*a, (*n + 1) * sizeof **a);
	(*a)[(*n)++] = p;
}

static bool inline_media(const char *type)
{
	return !strncmp(type, "image/", 6) || !strncmp(type, "audio/", 6) ||
	       !strncmp(type, "video/", 6);
}

static void structure(const struct mime_part *first, const char *mtype, bool in_alt,
		      struct lists *l, int depth)
{
	size_t tlen = l->no_text ? (size_t)-1 : l->nt, hlen = l->no_html ? (size_t)-1 : l->nh;
	unsigned i = 0;
	for (const struct mime_part *p = first; p && depth < MIME_MAX_DEPTH; p = p->next, i++) {
		char *type = part_type(p), *name = part_name(p);
		bool att = p->disp && !strcasecmp(p->disp, "attachment");
		bool is_inline = !att &&
			(!strcmp(type, "text/plain") || !strcmp(type, "text/html") || inline_media(type)) &&
			(i == 0 || (strcmp(mtype, "related") && (inline_media(type) || !name)));
		if (p->multipart) {
			const char *sub = strchr(type, '/') + 1;
			structure(p->children, sub, in_alt || !strcmp(sub, "alternative"), l, depth + 1);
		} else if (is_inline && !strcmp(mtype, "alternative")) {
			if (!strcmp(type, "text/plain"))
				push(&l->text, &l->nt, p);
			else if (!strcmp(type, "text/html"))
				push(&l->html, &l->nh, p);
			else
				push(&l->att, &l->na, p);
		} else if (is_inline) {
			if (in_alt && !strcmp(type, "text/plain"))
				l->no_html = true;
			if (in_alt && !strcmp(type, "text/html"))
				l->no_text = true;
			if (!l->no_text)
				push(&l->text, &l->nt, p);
			if (!l->no_html)
				push(&l->html, &l->nh, p);
			if ((l->no_text || l->no_html) && inline_media(type))
				push(&l->att, &l->na, p);
		} else {
			push(&l->att, &l->na, p);
		}
		free(type);
		free(name);
	}
	if (!strcmp(mtype, "alternative") && !l->no_text && !l->no_html) {
		if (tlen == l->nt && hlen != l->nh)	/* only HTML was found */
			for (size_t k = hlen; k < l->nh; k++)
				push(&l->text, &l->nt, l->html[k]);
		if (hlen == l->nh && tlen != l->nt)	/* only plain text was found */
			for (size_t k = tlen; k < l->nt; k++)
				push(&l->html, &l->nh, l->text[k]);
	}
}

static void make_lists(const struct email *e, struct lists *l)
{
	memset(l, 0, sizeof *l);
	structure(e->m->root, "mixed", false, l, 0);
	if (l->no_text)
		l->nt = 0;
	if (l->no_html)
		l->nh = 0;
}

static void free_lists(struct lists *l)
{
	free(l->text);
	free(l->html);
	free(l->att);
}

static json_t *list_json(struct email *e, const struct mime_part **a, size_t n, json_t *bp)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, part_json(e, a[i], bp));
	return arr;
}

/* ---- values and preview ---- */

/* At most max bytes of UTF-8 text, never cutting a character. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

static void add_value(struct email *e, const struct mime_part *p, uint64_t max, json_t *values)
{
	char key[16];
	snprintf(key, sizeof key, "%u", leaf_number(e->m, p));
	if (json_object_get(values, key))
		return;
	bool problem = false;
	size_t len;
	char *t = email_part_text(e, p, &len, &problem);
	size_t keep = max ? utf8_cut(t, len, (size_t)max) : len;
	json_object_set_new(values, key, json_pack("{s:o, s:b, s:b}", "value", json_textn(t, keep),
						   "isEncodingProblem", problem,
						   "isTruncated", keep < len));
	free(t);
}

/* Markup out, entities for the common characters in, whitespace squashed. */
static void html_to_text(char *s)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
		{ "&#39;", '\'' }, { "&nbsp;", ' ' },
	};
	char *o = s;
	bool tag = false;
	for (char *p = s; *p; p++) {
		if (*p == '<')
			tag = true;
		else if (*p == '>' && tag)
			tag = false, *o++ = ' ';
		else if (!tag && *p == '&') {
			size_t k = 0;
			while (k < ARRAY_LEN(ents) && strncasecmp(p, ents[k].ent, strlen(ents[k].ent)))
				k++;
			if (k < ARRAY_LEN(ents)) {
				*o++ = ents[k].c;
				p += strlen(ents[k].ent) - 1;
			} else {
				*o++ = *p;
			}
		} else if (!tag) {
			*o++ = *p;
		}
	}
	*o = '\0';
}

static json_t *preview(struct email *e, const struct lists *l)
{
	const struct mime_part *p = NULL;
	bool html = false;
	for (size_t i = 0; i < l->nt && !p; i++) {
		char *t = part_type(l->text[i]);
		if (!strncmp(t, "text/", 5)) {
			p = l->text[i];
			html = !strcmp(t, "text/html");
		}
		free(t);
	}
	if (!p)
		return json_string("");
	bool problem = false;
	size_t len;
	char *t = email_part_text(e, p, &len, &problem);
	if (html)
		html_to_text(t);
	/* squash whitespace, keep PREVIEW_CHARS characters */
	char *o = t;
	size_t chars = 0;
	bool space = false;
	for (char *q = t; *q && chars < PREVIEW_CHARS; q++) {
		if (isspace((unsigned char)*q)) {
			space = o != t;
			continue;
		}
		if (space) {
			*o++ = ' ';
			chars++;
			space = false;
		}
		if (((unsigned char)*q & 0xc0) != 0x80)
			chars++;
		if (chars > PREVIEW_CHARS)
			break;
		*o++ = *q;
	}
	*o = '\0';
	json_t *j = json_text(t);
	free(t);
	return j;
}

void email_body_fill(struct email *e, const struct email_opts *o, json_t *props, json_t *obj)
{
	static const char *const defaults[] = { "partId", "blobId", "size", "name", "type",
						"charset", "disposition", "cid", "language",
						"location", NULL };
	json_t *bp = o->body_props ? json_incref(o->body_props) : json_array();
	for (size_t i = 0; !o->body_props && defaults[i]; i++)
		json_array_append_new(bp, json_string(defaults[i]));
	struct lists l;
	make_lists(e, &l);
	if (json_has_string(props, "bodyStructure")) {
		json_t *bp2 = json_deep_copy(bp);
		json_array_append_new(bp2, json_string("subParts"));
		json_object_set_new(obj, "bodyStructure", part_json(e, e->m->root, bp2));
		json_decref(bp2);
	}
	if (json_has_string(props, "textBody"))
		json_object_set_new(obj, "textBody", list_json(e, l.text, l.nt, bp));
	if (json_has_string(props, "htmlBody"))
		json_object_set_new(obj, "htmlBody", list_json(e, l.html, l.nh, bp));
	if (json_has_string(props, "attachments"))
		json_object_set_new(obj, "attachments", list_json(e, l.att, l.na, bp));
	if (json_has_string(props, "hasAttachment"))
		json_object_set_new(obj, "hasAttachment", json_boolean(l.na > 0));
	if (json_has_string(props, "preview"))
		json_object_set_new(obj, "preview", preview(e, &l));
	if (json_has_string(props, "bodyValues")) {
		json_t *values = json_object();
		struct leaf_list { const struct mime_part **a; size_t n; bool on; } sets[] = {
			{ l.text, l.nt, o->text || o->all }, { l.html, l.nh, o->html || o->all },
		};
		for (size_t s = 0; s < ARRAY_LEN(sets); s++)
			for (size_t i = 0; sets[s].on && i < sets[s].n; i++) {
				char *t = part_type(sets[s].a[i]);
				if (!strncmp(t, "text/", 5))
					add_value(e, sets[s].a[i], o->max_value, values);
				free(t);
			}
		for (unsigned n = 1; o->all; n++) {
			const struct mime_part *p = leaf_of(e->m, n);
			if (!p)
				break;
			char *t = part_type(p);
			if (!strncmp(t, "text/", 5))
				add_value(e, p, o->max_value, values);
			free(t);
		}
		json_object_set_new(obj, "bodyValues", values);
	}
	free_lists(&l);
	json_decref(bp);
}

/* ---- blobs ---- */

void email_blob_id(const char *emailid, char out[64])
{
	snprintf(out, 64, "R%s", emailid + 1);
}

/* A memfd holding the CRLF octets [off, off+len) of the file, or the
 * decoded body of part p. */
static int to_memfd(struct email *e, const struct mime_part *p, size_t *len)
{
	int fd = memfd_create("blob", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (p) {
		bool problem = false;
		char *b = part_bytes(e, p, SIZE_MAX / 2, len, &problem);
		int r = write_all(fd, b, *len);
		free(b);
		if (r < 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	struct crlf_reader r;
	char buf[65536];
	ssize_t got;
	*len = 0;
	crlf_reader_init(&r, e->fd, 0, e->crlf_len);
	while ((got = crlf_read(&r, buf, sizeof buf)) > 0) {
		if (write_all(fd, buf, (size_t)got) < 0) {
			close(fd);
			return -1;
		}
		*len += (size_t)got;
	}
	return fd;
}

/* A leaf part number as a blob id writes it: "3", never "03" or "3x". */
static bool leaf_number_of(const char *s, unsigned *n)
{
	uint64_t v;
	if (*s == '0' || !parse_u64(s, UINT32_MAX, &v))
		return false;
	*n = (unsigned)v;
	return true;
}

/* Leaf part n of the message (NULL: the whole message) as a memfd. */
static int part_open(struct email *e, bool whole, unsigned n, int *fd, size_t *len)
{
	const struct mime_part *p = NULL;
	if (!e->m || (!whole && !(p = leaf_of(e->m, n))))
		return -1;
	return (*fd = to_memfd(e, p, len)) < 0 ? -1 : 0;
}

/* "BASE-N": leaf part N of the message held by blob BASE. */
static int nested_open(struct sess *s, const char *blob_id, const char *dash, unsigned n,
		       int *fd, size_t *len)
{
	char *base = xstrndup(blob_id, (size_t)(dash - blob_id));
	int bfd, r = -1;
	size_t blen;
	if (blob_open(s, base, &bfd, &blen) == 0) {
		struct email e;
		email_of_blob(&e, base, bfd, blen);
		r = part_open(&e, false, n, fd, len);
		email_close(&e);
	}
	free(base);
	return r;
}

int email_blob_open(struct sess *s, const char *blob_id, int *fd, size_t *len)
{
	size_t idlen = strlen(blob_id);
	const char *dash = strrchr(blob_id, '-');
	unsigned n = 0;
	bool whole = blob_id[0] == 'R' && idlen == OBJECTID_LEN;
	if (idlen > BLOB_ID_MAX || nesting(blob_id) > BLOB_NEST_MAX ||
	    (!whole && (!dash || dash == blob_id || !leaf_number_of(dash + 1, &n))))
		return -1;
	if (!whole && !(blob_id[0] == 'P' && dash == blob_id + OBJECTID_LEN))
		return nested_open(s, blob_id, dash, n, fd, len);
	char id[OBJECTID_LEN + 1];
	snprintf(id, sizeof id, "E%.24s", blob_id + 1);
	struct email e;
	if (!email_find(s, id, &e))
		return -1;
	int r = email_parse(&e) ? part_open(&e, whole, n, fd, len) : -1;
	email_close(&e);
	return r;
}

/* ---- file-level questions for queries ---- */

static bool file_email(const char *path, struct email *e)
{
	memset(e, 0, sizeof *e);
	e->path = xstrdup(path);
	e->fd = -1;
	return email_parse(e);
}

static void file_email_close(struct email *e)
{
	if (e->m)
		mime_stream_free(e->m);
	if (e->fd >= 0)
		close(e->fd);
	free(e->path);
}

int email_file_has_attachment(const char *path)
{
	struct email e;
	int r = 0;
	if (file_email(path, &e)) {
		struct lists l;
		make_lists(&e, &l);
		r = l.na > 0;
		free_lists(&l);
	}
	file_email_close(&e);
	return r;
}

bool email_file_body_contains(const char *path, const char *needle)
{
	struct email e;
	bool found = false;
	if (file_email(path, &e)) {
		struct lists l;
		make_lists(&e, &l);
		const struct mime_part **sets[] = { l.text, l.html };
		size_t counts[] = { l.nt, l.nh };
		for (size_t s = 0; s < 2 && !found; s++)
			for (size_t i = 0; i < counts[s] && !found; i++) {
				char *t = part_type(sets[s][i]);
				if (!strncmp(t, "text/", 5)) {
					bool problem = false;
					size_t len;
					char *txt = email_part_text(&e, sets[s][i], &len, &problem);
					found = strcasestr(txt, needle) != NULL;
					free(txt);
				}
				free(t);
			}
		free_lists(&l);
	}
	file_email_close(&e);
	return found;
}

struct hsearch {
	const char *name, *value;
	bool found;
};

static int hsearch_cb(const char *name, const char *value, void *arg)
{
	struct hsearch *h = arg;
	if (strcasecmp(name, h->name))
		return 0;
	if (!h->value) {
		h->found = true;
		return 1;
	}
	char *d = mime_decode_words(value);
	h->found = strcasestr(d ? d : value, h->value) != NULL;
	free(d);
	return h->found;
}

bool email_file_header_contains(const char *path, const char *name, const char *value)
{
	struct email e;
	struct hsearch h = { name, value, false };
	if (file_email(path, &e))
		mime_header_each(e.m->buf + e.m->root->hdr_off, e.m->root->hdr_len, hsearch_cb, &h);
	file_email_close(&e);
	return h.found;
}
