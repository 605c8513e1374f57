/* initdirs.h — the files and directories of a new instance, with the owners and
 * modes of docs/ARCHITECTURE.md ("Files of an instance"). */
#ifndef TERN_MAILCTL_INITDIRS_H
#define TERN_MAILCTL_INITDIRS_H

/* DIR/tls/cert.pem + key.pem, self-signed for hostname. 0 or -1 (error printed). */
int init_tls(const char *dir, const char *hostname);
/* spool/ mail/ db/ run/ log/ with owners (as root) and modes. 0 or -1 (printed). */
int init_data_dirs(const char *dir);
/* True if dir has no entries besides . and .. */
int dir_is_empty(const char *dir);
/* Remove everything inside dir (not dir itself), not following symlinks. */
void remove_tree_contents(const char *dir);

#endif
