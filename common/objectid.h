/* objectid.h — stable object ids for a Maildir++ account: IMAP OBJECTID
 * (RFC 8474: MAILBOXID, EMAILID) and the ids JMAP uses for the same objects
 * (RFC 8620 1.2: 1-255 of A-Za-z0-9_-), so both protocols name a mailbox or
 * a message the same way.
 *
 * MAILBOXID: "M" + 24 hex digits, random, kept in the folder's directory
 * (FOLDER/tern-mailboxid, the Maildir root for INBOX). It moves with the
 * folder on RENAME and survives an index rebuild; a folder made by another
 * tool gets one on first use. A new folder at a deleted one's name gets a
 * new id (its directory is new).
 *
 * EMAILID: "E" + 24 hex digits of the SHA-256 of the Maildir unique name
 * (the file name up to the ':' of its flags). It stays the same when flags
 * change (the file is renamed) and when the message moves by rename keeping
 * its unique name (common/mailmove.h, as JMAP moves; imapd's MOVE writes a
 * copy today, a new file and so a new id); a COPY is a new file, a new
 * message and a new id. An index rebuild keeps it, since it is derived from
 * the name. */
#ifndef TERN_OBJECTID_H
#define TERN_OBJECTID_H

#include <stddef.h>

#define OBJECTID_LEN	25	/* letter + 24 hex digits */
#define MAILBOXID_FILE	"tern-mailboxid"

/* The MAILBOXID of the folder directory dir ("." for INBOX), made and
 * stored at first use. 0, or -1 (errno) when it can be neither read nor
 * stored. */
int objectid_mailbox(const char *dir, char out[OBJECTID_LEN + 1]);
/* The EMAILID of a message file name (with or without its ":2,..." part). */
void objectid_email(const char *file, char out[OBJECTID_LEN + 1]);
/* Is s an id of this form with the given letter? */
int objectid_valid(const char *s, char letter);

#endif
