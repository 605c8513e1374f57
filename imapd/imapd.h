/* imapd.h — tern-imapd: shared declarations of the login and mail roles.
 *
 * Login role (`tern-imapd`, account tern-imapd, chrooted in run_dir): speaks
 * IMAP until the client is authenticated (CAPABILITY, STARTTLS, LOGIN,
 * AUTHENTICATE PLAIN, ID, NOOP, LOGOUT), asks authd, then hands the connection
 * to the mail role: the raw socket when there is no TLS, else one end of a
 * socketpair while the login process keeps proxying the TLS session.
 *
 * Mail role (`tern-imapd --mail`, account tern-vmail): accepts hand-offs on
 * RUN/imap-mail.sock, checks the login token with the run secret and forks one
 * process per session confined to that user's Maildir. */
#ifndef TERN_IMAPD_H
#define TERN_IMAPD_H

#include "common/config.h"
#include "common/instance.h"

extern const struct cfg_key imapd_settings[];

/* The hand-off message on RUN/imap-mail.sock (login role -> mail role),
 * fields and limits in common/login_handoff.h: the tag is that of the
 * LOGIN/AUTHENTICATE command the mail role answers. */
#define IMAP_HANDOFF 300

#define IMAP_MAIL_SOCK "imap-mail.sock"

/* Capabilities: before login (TLS state decides STARTTLS/LOGINDISABLED/AUTH)
 * and after. */
#define CAPS_BASE "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE"
#define CAPS_AUTHED CAPS_BASE " BINARY UIDPLUS MOVE UNSELECT NAMESPACE CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH IDLE CONDSTORE SORT SORT=DISPLAY ESORT WITHIN CONTEXT=SEARCH CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS I18NLEVEL=1 QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE QRESYNC SEARCHRES STATUS=SIZE OBJECTID MULTIAPPEND CATENATE URLAUTH URLAUTH=BINARY URL-PARTIAL NOTIFY METADATA METADATA-SERVER UTF8=ACCEPT SAVEDATE PREVIEW"

int login_main(struct instance *in, struct cfg *conf);
int mail_main(struct instance *in, struct cfg *conf);


#endif
