/* penalty_store.h — the failed-login state (per client address and per user,
 * ratelimit.h) survives an authd restart: it is read at start and written to
 * DB_DIR/authd-failures at most once a second while it changes, and at exit.
 * A reload starts a new authd, which reads the file; the old one then stops
 * writing it (penalty_store_retire), so the two never overwrite each other. */
#ifndef TERN_AUTHD_PENALTY_STORE_H
#define TERN_AUTHD_PENALTY_STORE_H

#define PENALTY_FILE "authd-failures"

/* After privdrop (db_dir as authd sees it): read the file into authd.rl and
 * authd.rl_users. A missing file is an empty state; bad lines are skipped. */
void penalty_store_open(const char *db_dir);
/* The state changed: write it within a second. */
void penalty_store_changed(void);
/* Write now if anything changed (at exit). */
void penalty_store_flush(void);
/* A newer authd owns the file from now on. */
void penalty_store_retire(void);

#endif
