/* qindex.h — the queue index: one Berkeley DB btree of qrec records in a
 * transactional environment (SPOOL/db) that only queued opens. Writes commit
 * with DB_TXN_NOSYNC; qindex_flush() then makes every commit so far durable with
 * one log flush (group commit: the caller acknowledges after it). */
#ifndef TERN_QUEUED_QINDEX_H
#define TERN_QUEUED_QINDEX_H

#include "queued/qrec.h"

#include <stdbool.h>

/* Set by qindex_open: there was no index before (first start, or it was lost). */
extern bool qindex_created;

/* Open (creating, running recovery). -1 if the environment is unusable. */
int qindex_open(const char *dir);
void qindex_close(void);
/* 0 ok; -1 error with errno (ENOSPC when the disk is full). */
int qindex_put(const struct qmsg *m);
int qindex_del(const char *id);
/* Make every commit so far durable. 0 or -1. */
int qindex_flush(void);
/* Call fn for each decodable record; undecodable ones are logged and passed
 * to bad(id) so the caller can repair them. */
int qindex_each(void (*fn)(struct qmsg *m, void *arg), void (*bad)(const char *id, void *arg),
		void *arg);
/* Checkpoint and remove logs no longer needed (call now and then). */
void qindex_checkpoint(void);

#endif
