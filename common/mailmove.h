/* mailmove.h — moving a message between two folders of one Maildir by
 * rename, keeping its unique name (and so its EMAILID, common/objectid.h):
 * a hard link into the destination's tmp/, indexed there with its flags,
 * keywords and internal date (mi_add_tmp renames it into cur/), then the
 * original expunged from the source. A crash in between leaves the message
 * in both folders, never in none. */
#ifndef TERN_MAILMOVE_H
#define TERN_MAILMOVE_H

#include <stdint.h>

struct mi;

/* Move uid of src into dst (whose directory is dst_dir); *new_uid set.
 * 0, or -1 with errno (the source is left as it was). */
int mi_move(struct mi *src, uint32_t uid, const char *dst_dir, struct mi *dst, uint32_t *new_uid);

#endif
