/* mailmove.c — a message moved between folders by rename (see mailmove.h). */
#include "common/mailmove.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mi_move(struct mi *src, uint32_t uid, const char *dst_dir, struct mi *dst, uint32_t *new_uid)
{
	struct mi_rec r;
	if (mi_get(src, uid, &r) != 1) {
		errno = ENOENT;
		return -1;
	}
	char *from = mi_path(src, &r);
	char *base = xstrndup(r.file, strcspn(r.file, ":"));
	char *tmp = xasprintf("%s/tmp/%s", dst_dir, base);
	int rc = link(from, tmp);
	if (rc == 0) {
		/* mi_add_tmp removes tmp/base itself when it fails */
		rc = mi_add_tmp(dst, base, r.flags, r.keywords, r.idate, new_uid);
		if (rc == 0 && mi_expunge(src, uid) < 0)
			rc = -1;
	}
	int e = errno;
	free(tmp);
	free(base);
	free(from);
	mi_rec_clear(&r);
	errno = e;
	return rc;
}
