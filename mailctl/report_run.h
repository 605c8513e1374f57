/* report_run.h — one aggregate-report run over the records a daemon left in
 * the spool, shared by `mailctl dmarc report` (cmd_dmarc.c) and `mailctl
 * tlsrpt report` (cmd_tlsrpt.c), also run by the master on their intervals
 * (report_run.c). The run takes the kind's lock, flushes what an earlier run
 * left in the outbox, rotates the records, lets the kind aggregate them and
 * make its reports (each mail, or POST for an https: URI, into the outbox),
 * commits the outbox with the removal of the records and flushes it to the
 * queue and the HTTPS receivers (dmarc_outbox.h, report_post.h): an
 * interrupted run neither loses nor repeats a report. A kind only says how
 * records become reports. */
#ifndef TERN_MAILCTL_REPORT_RUN_H
#define TERN_MAILCTL_REPORT_RUN_H

#include "mailctl/dmarc_outbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPORT_EX_TEMPFAIL 75	/* sysexits: a report waits for the next run */

struct instance;
struct report_run;

struct report_kind {
	const char *cmd;	/* "dmarc": the subcommand, "mailctl dmarc report ..." */
	const char *name;	/* "dmarc report": prefix of messages and queue logs */
	const char *log_ident;	/* "dmarc-report": the scheduled run's log ident */
	const char *dir;	/* the records' directory in the spool */
	const char *from_key;	/* tern.conf key of the envelope sender ("" = default) */
	const char *from_local;	/* default sender: FROM_LOCAL@HOSTNAME */
	size_t line_max;	/* longest record line */
	/* A fresh aggregate; add one record line (false: malformed); free. */
	void *(*agg_new)(void);
	bool (*add_line)(const char *line, void *agg);
	void (*agg_free)(void *agg);
	/* After all lines: warn about what the aggregate dropped, then make each
	 * report (report_new_id, report_keep, report_each_rua, report_queue). */
	void (*reports)(struct report_run *r, void *agg);
};

struct report_opts {
	bool dry_run;		/* rotate nothing, send nothing */
	const char *output;	/* also keep the .gz files here (NULL: no) */
	bool to_log;		/* the master's scheduled run: say it in the log */
};

struct report_run {
	const struct instance *in;
	const struct report_kind *k;
	const struct report_opts *o;
	char *from;		/* envelope and header sender of the reports */
	uint64_t now;
	bool tempfail;		/* a report mail is still waiting in the outbox */
	bool outbox_failed;	/* a mail could not be made: keep the records */
	bool post_waiting;	/* a post failed: it waits in the outbox */
	char *ca;		/* CA bundle for posts (report_post.c), once read */
	size_t calen;
	struct outbox ob;
};

/* `mailctl CMD report [--dry-run] [--output DIR] [--log]`: the whole command. */
int report_cmd(const struct report_kind *k, const char *dir, int argc, char **argv);
/* One run; 0, 1 on errors, REPORT_EX_TEMPFAIL when a report could not be
 * queued, posted or made (kept for the next run). */
int report_run(const struct report_kind *k, const struct instance *in,
	       const struct report_opts *o);

/* A line on stdout, or in the log for a scheduled run. */
void report_say(const struct report_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A new report id UNIQUE.NOW@HOSTNAME (malloc'd); unique gets its random part. */
char *report_new_id(const struct report_run *r, char unique[24]);
/* Keep a copy of the report file in --output, if given. */
void report_keep(const struct report_run *r, const char *fname, const unsigned char *gz,
		 size_t len);
/* Call fn for each of the first max URIs of the comma-separated list (the
 * rest are said to be skipped); returns how many there were. */
int report_each_rua(struct report_run *r, const char *domain, const char *list, int max,
		    void (*fn)(struct report_run *r, const char *uri, void *arg), void *arg);
/* One report mail to addr, unless over limit bytes (0: none) or a dry run:
 * into the run's outbox. */
void report_queue(struct report_run *r, const char *domain, const char *addr, const char *mail,
		  uint64_t limit);

#endif
