/* account.h — the user's mail as JMAP sees it: folders (Mailbox objects)
 * and where each message (Email) is, brought up to date with the Maildir and
 * its indexes before each request (account_sync), which records what changed
 * in the journal (journal.h) so /changes costs O(changes).
 *
 * What a sync reads is what changed: a folder whose index, new/ and cur/ are
 * as they were at this process's last sync is not opened; an opened folder
 * is asked for the records changed and the expunges since the MODSEQ of the
 * last sync (mi_changed_since, mi_expunged_since). Message ids are EMAILIDs
 * (common/objectid.h): a message MOVEd by IMAP keeps its id, and JMAP sees
 * it as updated (other mailboxIds), never destroyed and created. */
#ifndef TERN_HTTPD_ACCOUNT_H
#define TERN_HTTPD_ACCOUNT_H

#include "common/objectid.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct journal;

struct folder {
	char *name;		/* stored name: "INBOX", "Archive.2024" (modified UTF-7) */
	char *dir;		/* "." or ".Archive.2024" */
	char id[OBJECTID_LEN + 1];
	char parent[OBJECTID_LEN + 1];	/* "" at the top */
	char *display;		/* UTF-8 name below the parent */
	const char *role;	/* "inbox", "sent", ... or NULL */
	bool subscribed;
	uint32_t total, unread, threads, unread_threads;
};

struct account {
	struct folder *f;
	size_t nf;
	uint64_t synced_n;	/* journal change number after our last sync */
	json_t *stamps;		/* dir -> "mtimes" at our last look */
};

void account_init(struct account *a);
void account_free(struct account *a);
/* Bring the journal up to date (write lock held during the sync) and reload
 * the folder list. 0, or -1 (logged) when the journal cannot be written. */
int account_sync(struct account *a);
const struct folder *account_folder(const struct account *a, const char *id);
const struct folder *account_folder_by_name(const struct account *a, const char *name);
/* Where email id is: its folder and UID; false when there is no such email. */
bool account_locate(struct journal *j, const struct account *a, const char *id,
		    const struct folder **f, uint32_t *uid);
/* The thread of email id ("" unknown), into out (common/threadid.h). */
void account_thread_of(const char *id, char out[OBJECTID_LEN + 1]);

#endif
