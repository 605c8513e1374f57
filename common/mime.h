/* mime.h — RFC 5322 / RFC 2045-2049 message parsing for IMAP and search.
 *
 * The parser works on a message held in memory with CRLF line endings (IMAP
 * counts octets in CRLF form; mime_to_crlf converts a Maildir file's bare LF).
 * It builds a tree of parts that point into the buffer (no copies of bodies)
 * and stops descending at hard limits: header bytes per part, nesting depth
 * and total part count. Past a limit the rest is treated as an opaque body,
 * so hostile input costs bounded time and memory and never fails to parse.
 *
 * From the tree it produces the IMAP ENVELOPE and BODYSTRUCTURE strings
 * (RFC 3501 7.4.2, with extension data) and resolves section specifiers
 * ("1.2", "1.2.HEADER", "1.2.MIME", "TEXT"). Decoding helpers (RFC 2047
 * encoded words, RFC 2231 parameters, charsets through iconv) serve SEARCH. */
#ifndef TERN_MIME_H
#define TERN_MIME_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

/* Where converted octets go, in pieces (mime_binary.h, mime_binconv.h):
 * 0, or non-zero to stop the conversion (which then returns it). */
typedef int (*mime_sink)(void *arg, const char *p, size_t n);

/* Header bytes of one part the streaming parser keeps whole (mime_stream.h);
 * past them it keeps only the fields mime_field_kept names, so ENVELOPE,
 * SEARCH and the MIME tree see every such field however long the header. */
#define MIME_MAX_HEADER	(256 * 1024)
#define MIME_MAX_DEPTH	24		/* nesting of multiparts / message/rfc822 */
#define MIME_MAX_PARTS	2000		/* parts in one message */
#define MIME_MAX_FIELDS	1000		/* header fields listed per part (JMAP headers) */

struct mime_param {
	char *name, *value;
};

struct mime_part {
	size_t hdr_off, hdr_len;	/* header incl. the empty line ending it */
	size_t body_off, body_len;
	size_t body_lines;
	char *type, *subtype;		/* as written (defaults "text"/"plain") */
	struct mime_param *params;
	size_t nparams;
	char *id, *desc, *enc, *md5, *lang, *loc;
	char *disp;			/* disposition type or NULL */
	struct mime_param *dparams;
	size_t ndparams;
	struct mime_part *children;	/* multipart: first child */
	struct mime_part *next;		/* next sibling */
	struct mime_part *msg;		/* message/rfc822: the enclosed message */
	size_t nchildren;
	bool multipart;
};

struct mime_msg {
	const char *buf;
	size_t len;
	struct mime_part *root;
	size_t nparts;
};

/* Copy of data with every bare LF turned into CRLF; *outlen set. */
char *mime_to_crlf(const char *data, size_t len, size_t *outlen);
/* Octets data would have in CRLF form. */
size_t mime_crlf_size(const char *data, size_t len);

/* The Content-* fields of part p from its header (CRLF), with the default
 * type (text/plain, or message/rfc822 in a multipart/digest) when none is
 * given. mime_stream.h builds trees with it too. */
void mime_part_fields(struct mime_part *p, const char *hdr, size_t len, bool digest_default);

/* Give multipart p (with no children) the empty text/plain part RFC 3501 wants. */
void mime_empty_child(struct mime_part *p);
/* The value of a hex digit / base64 character, -1 for any other. */
int mime_hex_value(int c);
int mime_b64_value(int c);

/* Parse buf (CRLF, not copied: must outlive the result). Never fails. */
struct mime_msg *mime_parse(const char *buf, size_t len);
void mime_free(struct mime_msg *m);

/* The ten fields the ENVELOPE is built from, in its order. */
enum {
	MIME_ENV_DATE, MIME_ENV_SUBJECT, MIME_ENV_FROM, MIME_ENV_SENDER, MIME_ENV_REPLYTO,
	MIME_ENV_TO, MIME_ENV_CC, MIME_ENV_BCC, MIME_ENV_INREPLYTO, MIME_ENV_MSGID, MIME_ENV_N
};
/* Their names in lower case. */
extern const char *const mime_envelope_names[MIME_ENV_N];
/* The ENVELOPE slot of a field name (any case), -1 for any other field. */
int mime_envelope_slot(const char *name);
/* Append the IMAP ENVELOPE / BODYSTRUCTURE (extended) or BODY (!extended). */
void mime_envelope(const struct mime_msg *m, const struct mime_part *p, struct evbuffer *out);
/* The ENVELOPE from a header walk of the caller's own, for a caller that
 * reads the same fields for more (the index's first open builds the ENVELOPE
 * and the SEARCH field record in one walk, each address list parsed once).
 * Zero-initialise, give every field of the walk to mime_env_field, then
 * mime_env_out and mime_env_free. */
struct mime_addr;
struct mime_env {
	char *v[MIME_ENV_N];		/* first value of each field */
	struct mime_addr *a[MIME_ENV_N];	/* the address fields' lists, parsed */
	size_t na[MIME_ENV_N];
};
/* The field's ENVELOPE slot (-1: none); *first (optional) tells whether this
 * is its first occurrence, the one the ENVELOPE shows (and e->a parsed). */
int mime_env_field(struct mime_env *e, const char *name, const char *value, bool *first);
void mime_env_out(const struct mime_env *e, struct evbuffer *out);
void mime_env_free(struct mime_env *e);
void mime_bodystructure(const struct mime_msg *m, const struct mime_part *p, bool extended,
			struct evbuffer *out);
/* The same three into a strbuf (strbuf.h), appended: one buffer for a
 * record built of several renderings. */
struct strbuf;
void mime_env_render(const struct mime_env *e, struct strbuf *out);
void mime_bodystructure_render(const struct mime_msg *m, const struct mime_part *p, bool extended,
			       struct strbuf *out);

/* Append an IMAP string (quoted, or a literal when needed) / nstring (NIL for NULL). */
void imap_quote(struct evbuffer *out, const char *s, size_t len);
void imap_nstring(struct evbuffer *out, const char *s);
void imap_quote_sb(struct strbuf *out, const char *s, size_t len);

/* Section resolution: spec is the part between [ and ] (upper or lower case),
 * e.g. "", "TEXT", "HEADER", "1.2", "1.2.MIME", "2.HEADER.FIELDS (FROM TO)".
 * Returns the byte range to send; for HEADER.FIELDS[.NOT] the caller receives
 * kind MIME_SEC_FIELDS with the header range and filters with mime_header_filter.
 * -1 if the spec is malformed; a part number that does not exist gives an
 * empty range (RFC 3501 lets servers return empty data). */
enum mime_sec_kind { MIME_SEC_RANGE, MIME_SEC_FIELDS, MIME_SEC_FIELDS_NOT };
struct mime_section {
	enum mime_sec_kind kind;
	size_t off, len;
	char **fields;	/* HEADER.FIELDS names (malloc'd) */
	size_t nfields;
};
int mime_section(const struct mime_msg *m, const char *spec, struct mime_section *out);
void mime_section_free(struct mime_section *s);
/* Append the header fields of hdr (whose names are / are not in fields) and the
 * final empty line. */
void mime_header_filter(const char *hdr, size_t len, char **fields, size_t nfields, bool not,
			struct evbuffer *out);

/* Is name (any case) one of the ten fields the ENVELOPE is built from? */
bool mime_envelope_field(const char *name);
/* Is the header line (n octets, starting a field) a field the MIME tree or
 * the ENVELOPE is built from: Content-* or an ENVELOPE field? */
bool mime_field_kept(const char *line, size_t n);

/* Unfolded value of the first header field named name (case-insensitive) in
 * hdr, malloc'd, or NULL. */
char *mime_header_get(const char *hdr, size_t len, const char *name);
/* Call fn for each field of hdr: name (NUL-terminated copy) and raw value
 * (unfolded, malloc'd copy). Stops when fn returns non-zero. NUL octets
 * before a field are skipped: they are the gaps of a streaming image
 * (mime_stream.h) where fields nobody reads were left out. */
int mime_header_each(const char *hdr, size_t len,
		     int (*fn)(const char *name, const char *value, void *arg), void *arg);
/* The same with each value raw (RFC 8621 4.1.2.1 Raw form): the octets after
 * the colon up to the field's final CRLF, leading space and folding CRLFs
 * kept. */
int mime_header_each_raw(const char *hdr, size_t len,
			 int (*fn)(const char *name, const char *value, void *arg), void *arg);

/* RFC 2047: decode encoded words in s into UTF-8 (malloc'd). */
char *mime_decode_words(const char *s);
/* RFC 2047: the UTF-8 text s as B encoded words of whole characters, folded
 * ("\r\n " between words), malloc'd; "" for "". (mime_encode.c) */
char *mime_encode_words(const char *s);
/* Unstructured header text: s itself when printable ASCII with no "=?",
 * else mime_encode_words(s); malloc'd. */
char *mime_header_text(const char *s);
/* Convert n bytes in charset to UTF-8 (malloc'd, NUL-terminated), NULL if the
 * charset is unknown. "us-ascii"/"utf-8" are copied. */
char *mime_to_utf8(const char *charset, const char *s, size_t n);
/* RFC 2231: the value of parameter name among params (continuations joined,
 * charset converted to UTF-8; a plain value has its RFC 2047 words decoded),
 * malloc'd, or NULL. */
char *mime_param_decoded(const struct mime_param *params, size_t n, const char *name);
/* RFC 2231 parameters (name*=charset'lang'%XX, name*0*=... name*1=...) of a
 * parsed list replaced by one plain parameter each: sections joined, %XX
 * undone, charset converted to UTF-8, in the place of the first section (a
 * plain parameter of the same name takes the decoded value). What cannot be
 * decoded (an unknown charset) stays as written. RFC 9051 7.5.2 asks servers
 * to do this before BODYSTRUCTURE; mime_parse does it for every part. */
void mime_params_fold(struct mime_param **params, size_t *n);
/* Body of part p decoded (base64/quoted-printable) and converted to UTF-8 per
 * its charset, for SEARCH BODY/TEXT. malloc'd; *outlen set. */
char *mime_body_text(const struct mime_msg *m, const struct mime_part *p, size_t *outlen);
/* Body of part p with its Content-Transfer-Encoding undone (no charset
 * conversion), for FETCH BINARY; NULL for an unknown encoding. */
char *mime_part_binary(const struct mime_msg *m, const struct mime_part *p, size_t *outlen);
/* The part a numeric section names ("1.2"; "" is the whole message), or NULL. */
const struct mime_part *mime_find_part(const struct mime_msg *m, const char *spec);

#endif
