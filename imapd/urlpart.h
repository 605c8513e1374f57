/* urlpart.h — the octets an IMAP URL names (CATENATE's URL parts, URLFETCH,
 * BURL), read from the owner's Maildir (the working directory). Who may read
 * them is for the caller to decide first (urlauth.h). */
#ifndef TERN_IMAPD_URLPART_H
#define TERN_IMAPD_URLPART_H

#include "imapd/imapurl.h"

#include <stdbool.h>
#include <stdint.h>

struct mi;
struct mime_msg;
struct mime_part;
struct evbuffer;

/* How the caller opens a folder's index (the session keeps \Recent). */
typedef struct mi *(*url_open_fn)(void *arg, const char *dir);

struct url_data {
	int fd;				/* the message file (LF line ends) */
	uint64_t msg_size;		/* its CRLF octets */
	struct mime_msg *m;		/* parsed when the URL names a section */
	const struct mime_part *part;	/* that section's MIME part, if it is one */
	/* what the URL names, partial applied: CRLF octets [off, off + len) of
	 * the file, or (HEADER.FIELDS) the octets in text */
	uint64_t off, len;
	struct evbuffer *text;
};

/* The directory of the URL's folder (its mailbox is UTF-8 in the URL), NULL
 * when there is no such folder. */
char *url_folder_dir(const struct imap_url *u);
/* Find the message (the URL's UIDVALIDITY must match when given) and the
 * section. 0, or -1 with *why (a static string) when the URL names nothing. */
int url_part_open(const struct imap_url *u, url_open_fn open_fn, void *arg, struct url_data *d,
		  const char **why);
void url_part_close(struct url_data *d);

/* Give what it names, CRLF octets, to sink chunk by chunk (the file is never
 * read whole). -1 on a read error or when sink returns non-zero. */
int url_part_crlf(const struct url_data *d, int (*sink)(void *arg, const char *p, size_t n),
		  void *arg);

/* What URLFETCH returns for flags (URLF_* of common/urlfetch.h): the size
 * of the octets and whether they hold a NUL, and the BODYPARTSTRUCTURE when
 * asked. With URLF_BINARY the octets have their transfer encodings undone
 * (of a message or message/rfc822 part, every body part's: mime_binconv.h),
 * and BODYPARTSTRUCTURE gives the sizes of those octets (the encodings named
 * as stored, as Dovecot does). -1 when BINARY cannot undo an encoding. */
struct url_out {
	uint64_t size;
	bool nul;
	char *bps;
};
int url_part_describe(struct url_data *d, unsigned flags, struct url_out *o);
/* Those octets, to sink in chunks. -1 as url_part_crlf. */
int url_part_write(struct url_data *d, unsigned flags, int (*sink)(void *arg, const char *p, size_t n),
		   void *arg);
void url_out_free(struct url_out *o);

#endif
