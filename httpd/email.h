/* email.h — an Email object (RFC 8621 4.1) from a message file: its
 * metadata from the folder index, its header fields in every parsed form,
 * its body structure, the text, HTML and attachment lists, body values,
 * preview and the blobs of its parts. */
#ifndef TERN_HTTPD_EMAIL_H
#define TERN_HTTPD_EMAIL_H

#include "httpd/account.h"
#include "common/mailindex.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct sess;
struct journal;
struct mime_msg;
struct mime_part;

#define PREVIEW_CHARS 256
#define BLOB_NEST_MAX 8

struct email {
	char id[OBJECTID_LEN + 1], thread[OBJECTID_LEN + 1];
	const struct folder *f;
	struct mi_rec rec;
	char *path;		/* FOLDER/cur/FILE */
	int fd;			/* -1 until email_parse */
	struct mime_msg *m;	/* NULL until email_parse */
	uint64_t crlf_len;
	/* Email/parse: the blob the message was parsed from (its parts' blob
	 * ids are this id and "-N"); NULL for a stored message. */
	const char *blob;
	size_t blob_len;
};

struct email_opts {
	json_t *props;		/* NULL: the defaults */
	json_t *body_props;	/* NULL: the defaults */
	bool text, html, all;	/* fetchTextBodyValues ... */
	uint64_t max_value;	/* maxBodyValueBytes, 0: whole */
};

/* Find email id (journal "E" record) and its index record. */
bool email_open(struct sess *s, struct journal *j, const char *id, struct email *e);
/* email_open with a journal of its own. */
bool email_find(struct sess *s, const char *id, struct email *e);
/* A message in the blob open at fd (Email/parse; fd is e's from now on,
 * closed by email_close): false when it does not look like one. */
bool email_of_blob(struct email *e, const char *blob_id, int fd, size_t len);
/* Does the blob at fd start like a message: a header field name and its
 * colon on the first line? */
bool email_blob_is_message(int fd, size_t len);
/* Open and parse the file (headers kept, bodies read on demand). */
bool email_parse(struct email *e);
void email_close(struct email *e);
/* The index record's flags and keywords as JMAP keywords (lower case). */
json_t *email_keywords(const struct mi_rec *r);
/* The Email object with the properties o asks for. */
json_t *email_json(struct sess *s, struct email *e, const struct email_opts *o);
extern const char *const email_props[];		/* every property /get knows */
extern const char *const email_body_props[];

/* ---- header fields (email_headers.c) ---- */
/* The value of one header property ("header:Name[:asForm][:all]"), or NULL
 * when the property is malformed. hdr is the CRLF header block. */
json_t *email_header_prop(const char *hdr, size_t len, const char *prop);
/* [{"name", "value"}] of every field, in order. */
json_t *email_headers(const char *hdr, size_t len);
/* Parsed forms of one raw value ("Raw", "Text", "Addresses",
 * "GroupedAddresses", "MessageIds", "Date", "URLs"). */
json_t *email_header_form(const char *raw, const char *form);

/* ---- bodies (email_body.c) ---- */
/* bodyStructure, textBody, htmlBody, attachments, hasAttachment, preview,
 * bodyValues into obj, as the options ask. */
void email_body_fill(struct email *e, const struct email_opts *o, json_t *props, json_t *obj);
/* The blob id of the whole message. */
void email_blob_id(const char *emailid, char out[64]);
/* Open a message or part blob: a read-only fd of its bytes (a memfd) and
 * its length. -1 when it is not one. A part blob is "P" + the Email id's
 * digits + "-N" (leaf part N), and any blob id + "-N" is leaf part N of the
 * message in that blob (the part blobs of Email/parse), at most
 * BLOB_NEST_MAX deep. */
int email_blob_open(struct sess *s, const char *blob_id, int *fd, size_t *len);
/* Decoded, charset-converted text of a leaf part (UTF-8, malloc'd);
 * *problem when something could not be decoded. */
char *email_part_text(struct email *e, const struct mime_part *p, size_t *len, bool *problem);

/* ---- for queries (email_body.c): file-level questions ---- */
int email_file_has_attachment(const char *path);
bool email_file_body_contains(const char *path, const char *needle);
/* The header field exists (value NULL) or one of them contains value. */
bool email_file_header_contains(const char *path, const char *name, const char *value);

#endif
