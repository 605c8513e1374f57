/* settings.c — queued.conf: every setting of tern-queued, declared once. */
#include "queued/queued.h"

const struct cfg_key queued_settings[] = {
	CFG_KEY_TIME("minimal_backoff_time", "5m", 1, 86400, "Wait before the first retry of a deferred recipient (doubles each time)"),
	{ .name = "maximal_backoff_time", .type = CFG_TIME, .def = "1h", .min = 1, .max = 7 * 86400,
	  .at_least = "minimal_backoff_time", .doc = "Longest wait between two retries (not below minimal_backoff_time)" },
	CFG_KEY_TIME("maximal_queue_lifetime", "5d", 1, 365 * 86400, "A message still undeliverable after this long is bounced"),
	CFG_KEY_TIME("delay_warning_time", "4h", 0, 365 * 86400, "Send the sender a delay notice after this long (0 = never)"),
	CFG_KEY_SIZE("queue_minfree", "16m", 0, 1ull << 40, "Refuse new mail (452) when less than this is free in spool_dir"),
	CFG_KEY_SIZE("bounce_size_limit", "50k", 0, 1ull << 30, "Bounces quote the whole message up to this size, else its headers"),
	CFG_KEY_INT("commit_threads", "4", 1, 64, "Threads that write and fsync queue files in parallel"),
	CFG_KEY_INT("agent_max_jobs", "64", 1, 100000, "Messages handed to one delivery agent at a time"),
	CFG_KEY_SIZE("tlsrpt_log_max", "64m", 0, 1ull << 40, "Largest size of spool_dir/tlsrpt/records, the outbound TLS session outcomes kept for `mailctl tlsrpt report` (beyond it records are dropped and logged; 0 = keep none)"),
	CFG_KEY_SIZE("dmarc_log_max", "64m", 0, 1ull << 40, "Largest size of spool_dir/dmarc/records, the DMARC evaluations kept for `mailctl dmarc report` (beyond it records are dropped and logged; 0 = keep none)"),
	CFG_KEY_END,
};
