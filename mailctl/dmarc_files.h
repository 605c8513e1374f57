/* dmarc_files.h — SPOOL/dmarc for `mailctl dmarc report` (dmarc_files.c). */
#ifndef TERN_MAILCTL_DMARC_FILES_H
#define TERN_MAILCTL_DMARC_FILES_H

#include "mailctl/dmarc_report.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One report run at a time: an fd holding DIR/report.lock, or -1 (errno
 * EWOULDBLOCK when another run holds it). */
int dmarc_files_lock(const char *dir);
/* Rename DIR/records to DIR/records.TIME.PID under its lock; 0 (also when
 * there is no log yet) or -1. */
int dmarc_files_rotate(const char *dir);
/* The rotated files (and DIR/records itself if with_current), sorted, as
 * malloc'd paths; returns the count. */
size_t dmarc_files_list(const char *dir, bool with_current, char ***out);
/* Call fn for each line of path (with its "\n", at most maxline bytes); a
 * line fn refuses, a longer one or a torn last line counts as bad, never
 * fatal. 0 or -1 (errno). */
int report_files_each(const char *path, size_t maxline, bool (*fn)(const char *line, void *arg),
		      void *arg, uint64_t *good, uint64_t *bad);

#endif
