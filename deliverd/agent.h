/* agent.h — a delivery agent's connection to queued: connect (and reconnect),
 * say QUEUE_AGENT_HELLO with the transport, receive QUEUE_JOB messages and send
 * QUEUE_JOB_RES replies. Replies for jobs taken on an earlier connection (queued
 * restarted meanwhile) are dropped: queued re-offers those messages. */
#ifndef TERN_DELIVERD_AGENT_H
#define TERN_DELIVERD_AGENT_H

#include "common/ipc.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct agent;

/* Called for each QUEUE_JOB; returns false if the message is malformed (the
 * connection is then dropped). gen identifies the connection it came on. */
typedef bool (*agent_job_fn)(struct ipc_msg *job, uint64_t gen, void *arg);

/* Build a QUEUE_JOB_RES: begin with the queue id and the number of results,
 * then one agent_result_add per recipient. */
void agent_result_begin(struct ipc_msg *m, const char *qid, uint32_t n);
void agent_result_add(struct ipc_msg *m, uint32_t idx, int result, const char *status,
		      const char *text);

struct agent *agent_new(struct event_base *base, const char *queue_sock, uint32_t transport,
			const char *name, agent_job_fn fn, void *arg);
/* Send a QUEUE_JOB_RES (m is consumed) if connection gen is still the current one. */
void agent_reply(struct agent *a, uint64_t gen, struct ipc_msg *m);
/* Send a message that needs no answer (m is consumed), such as a TLS report
 * record, if connection gen is still the current one (else it is dropped). */
void agent_send(struct agent *a, uint64_t gen, struct ipc_msg *m);
/* Being replaced: ask queued for no new jobs (QUEUE_AGENT_DRAIN) and call done
 * once every job taken has been answered and the answers written (or the
 * connection is gone, which makes queued re-offer them anyway). */
void agent_drain(struct agent *a, void (*done)(void *), void *arg);

#endif
