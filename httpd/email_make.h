/* email_make.h — new messages from JMAP: Email/set create (RFC 8621 4.6,
 * a message built from the Email object's headers and parts) and
 * Email/import (4.8, an uploaded RFC 5322 blob), stored with their
 * keywords in their mailbox; and what they share with Email/set's updates. */
#ifndef TERN_HTTPD_EMAIL_MAKE_H
#define TERN_HTTPD_EMAIL_MAKE_H

#include "httpd/jmap.h"

#include <stdbool.h>
#include <stdint.h>

struct email;
struct folder;

/* Create one Email: {"id", "blobId", "threadId", "size"} or NULL with *err. */
json_t *email_create(struct jcall *c, const char *cid, json_t *obj, json_t **err);
/* Store the message in fd in folder f with obj's keywords and receivedAt:
 * {"id", "blobId", "threadId", "size"} or NULL with *err (Email/import). */
json_t *email_store(struct jcall *c, const char *cid, const struct folder *f, json_t *obj, int fd,
		    json_t **err);
/* The one mailbox of mailboxIds (creation ids resolved), or NULL with *err
 * (a message is one file in one folder: more than one is tooManyMailboxes). */
const struct folder *email_target(struct jcall *c, json_t *mbs, json_t **err);
/* JMAP keywords as IMAP flags and a space-separated keyword list (malloc'd). */
bool email_keywords_to_flags(json_t *kws, uint32_t *flags, char **keywords);
/* Set flags/keywords and move to folder to (may be the same): NULL or a SetError. */
json_t *email_apply(struct email *e, uint32_t flags, const char *keywords, const struct folder *to);

#endif
