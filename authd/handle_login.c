/* handle_login.c — AUTH_LOGIN_REQ: check a password, with the failure-rate
 * limiter. The hash is computed on a worker thread (yescrypt takes tens of
 * milliseconds; the loop keeps serving meanwhile). A failure is answered after
 * the larger penalty of its client address and of its user (ratelimit.h:
 * doubling per failure up to max_failure_delay; the user's only after
 * user_max_failures); refusals of a locked-out client after failure_delay. A
 * success clears its address's count. The log names the user, service and
 * client, never the password.
 *
 * The lock-out is decided before the hash and counted after it, so checks of
 * one client run at most LOGIN_PARALLEL at a time: the others wait their turn
 * and meet the lock-out their predecessors' failures set (before, 60 parallel
 * wrong logins from one address were all tried). */
#include "authd/authd.h"
#include "authd/penalty_store.h"
#include "authd/ratelimit.h"
#include "common/auth_client.h"
#include "common/directory.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define LOGIN_PARALLEL 4	/* password checks of one client running at once */

struct login_job {
	struct conn_job link;	/* first: see conn_job */
	struct login_job *next;	/* in running or waiting */
	char key[RL_KEY_MAX + 1];	/* the client as the limiter counts it */
	uint32_t id;
	char service[8];
	char user[AUTH_MAX_FIELD + 1];	/* as given (logs) */
	char canon[USERDB_MAX_ADDR];	/* normalised, "" if not an address */
	char client[AUTH_MAX_FIELD + 1];
	char *password;
	int result;		/* dir_check_password */
	int where;		/* login_host, after a good password */
	char host[USERDB_MAX_HOST + 1];	/* the mailbox host to proxy to, "" here */
	char error[200];	/* why it could not tell */
};

static struct login_job *running, *waiting, **waiting_tail = &waiting;

static unsigned running_for(const char *key)
{
	unsigned n = 0;
	for (struct login_job *j = running; j; j = j->next)
		n += !strcmp(j->key, key);
	return n;
}

static void unlink_running(struct login_job *j)
{
	struct login_job **pp = &running;
	while (*pp && *pp != j)
		pp = &(*pp)->next;
	if (*pp)
		*pp = j->next;
}

/* The client of a login: the address the login service accepted the
 * connection from, or "local" (mailctl). */
bool login_client_ok(const char *client)
{
	unsigned char a[16];
	return !strcmp(client, "local") || inet_pton(AF_INET, client, a) == 1 ||
	       inet_pton(AF_INET6, client, a) == 1;
}

static bool known_service(const char *s)
{
	return !strcmp(s, "smtp") || !strcmp(s, "pop3") || !strcmp(s, "imap") || !strcmp(s, "http") ||
	       !strcmp(s, "mailctl");
}

static void reply_host(struct conn *c, uint32_t id, enum auth_result res, const char *user,
		       const char *token, const char *host, uint64_t delay_ms)
{
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_LOGIN_RES, id);
	ipc_put_u32(&m, res);
	ipc_put_str(&m, user);
	ipc_put_str(&m, token);
	ipc_put_str(&m, host);
	conn_reply_later(c, &m, delay_ms);
}

static void reply(struct conn *c, uint32_t id, enum auth_result res, const char *user,
		  const char *token, uint64_t delay_ms)
{
	reply_host(c, id, res, user, token, "", delay_ms);
}

/* Worker thread: touches only the job. */
static void check_work(void *arg)
{
	struct login_job *j = arg;
	j->result = dir_check_password(authd.dir, j->canon[0] ? j->canon : j->user, j->password);
	explicit_bzero(j->password, strlen(j->password));
	if (j->result == 1 && j->canon[0])
		j->where = login_host(j->service, j->canon, j->host);
	if (j->result < 0 || j->where < 0)
		strlcpy_t(j->error, dir_last_error(), sizeof j->error);
}

/* Count the failure against the address and the user; answer after the
 * larger of their penalties. */
static void fail(struct conn *c, struct login_job *j, uint64_t now)
{
	const char *user = j->canon[0] ? j->canon : j->user;
	unsigned n = rl_failure(authd.rl, j->client, now);
	unsigned nu = rl_failure(authd.rl_users, user, now);
	uint64_t d = rl_penalty(authd.rl, j->client, now);
	uint64_t du = rl_penalty(authd.rl_users, user, now);
	penalty_store_changed();
	log_warn("login: service=%s user=%.100s client=%.64s result=failed failures=%u "
		 "user_failures=%u delay=%llums%s%s", j->service, j->user, j->client, n, nu,
		 (unsigned long long)(du > d ? du : d),
		 rl_locked(authd.rl, j->client, now) ? " (client locked out)" : "",
		 du > d ? " (user slowed)" : "");
	reply(c, j->id, AUTH_FAIL, "", "", du > d ? du : d);
}

static void finish(struct conn *c, struct login_job *j)
{
	uint64_t now = now_ms();
	if (j->result < 0 || (j->result == 1 && j->where < 0)) {
		log_err("login: service=%s user=%.100s client=%.64s result=tempfail (directory: %s)",
			j->service, j->user, j->client, j->error);
		reply(c, j->id, AUTH_TEMPFAIL, "", "", 0);
	} else if (j->result == 1 && j->where == 0) {
		/* The password was right: no failure to count, but no mailbox
		 * either until the directory names its host. */
		log_err("login: service=%s user=%s client=%.64s result=tempfail (a front-end, and "
			"the user has no mailbox host: mailctl user host)", j->service, j->canon,
			j->client);
		reply(c, j->id, AUTH_TEMPFAIL, "", "", 0);
	} else if (j->result == 1) {
		char token[AUTH_TOKEN_MAX];
		token_for(j->service, j->canon, token, sizeof token);
		log_info("login: service=%s user=%s client=%.64s result=ok%s%s", j->service, j->canon,
			 j->client, j->host[0] ? " proxy=" : "", j->host);
		rl_forget(authd.rl, j->client);
		penalty_store_changed();
		reply_host(c, j->id, AUTH_OK, j->canon, token, j->host, 0);
	} else {
		fail(c, j, now);
	}
}

static void job_free(struct login_job *j)
{
	explicit_bzero(j->password, strlen(j->password));
	free(j->password);
	free(j);
}

static void refuse_locked(struct conn *c, uint32_t id, const char *service, const char *user,
			  const char *client)
{
	log_warn("login: service=%s user=%.100s client=%.64s result=locked (too many failures)",
		 service, user, client);
	reply(c, id, AUTH_LOCKED, "", "", authd.fail_delay_ms);
}

static void check_done(void *arg);

static void start_check(struct login_job *j)
{
	j->next = running;
	running = j;
	workq_submit(authd.hashq, check_work, check_done, j);
}

/* A check of key ended: the first waiting job of that client goes now, unless
 * the failures so far locked the client out (then it is refused, and so on). */
static void start_waiting(const char *key)
{
	struct login_job **pp = &waiting;
	while (*pp) {
		struct login_job *j = *pp;
		if (strcmp(j->key, key)) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (!*pp)
			waiting_tail = pp;
		struct conn *c = conn_job_finish(&j->link);	/* NULL: its peer went away */
		if (c && rl_locked(authd.rl, j->client, now_ms())) {
			refuse_locked(c, j->id, j->service, j->user, j->client);
		} else if (c && conn_job_add(c, &j->link)) {
			start_check(j);
			return;
		}
		if (c)
			conn_settle(c);
		job_free(j);
	}
}

/* Loop thread, after check_work. */
static void check_done(void *arg)
{
	struct login_job *j = arg;
	unlink_running(j);
	struct conn *c = conn_job_finish(&j->link);
	if (c) {
		finish(c, j);
		conn_settle(c);
	}
	char key[RL_KEY_MAX + 1];
	memcpy(key, j->key, sizeof key);
	job_free(j);
	start_waiting(key);
}

int handle_login(struct conn *c, struct ipc_msg *req)
{
	const char *service = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *user = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *password = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *client = ipc_get_str(req, AUTH_MAX_FIELD);
	if (!ipc_end(req) || !known_service(service))
		return -1;
	if (!login_client_ok(client)) {
		/* The limiter counts by this: a peer may not make up names. */
		log_warn("login: %s sent client \"%.64s\", not an IP address; closing", conn_peer(c),
			 client);
		return -1;
	}
	if (rl_locked(authd.rl, client, now_ms())) {
		refuse_locked(c, req->hdr.id, service, user, client);
		return 0;
	}
	struct login_job *j = xcalloc(1, sizeof *j);
	j->id = req->hdr.id;
	j->where = 1;
	strlcpy_t(j->service, service, sizeof j->service);
	strlcpy_t(j->user, user, sizeof j->user);
	strlcpy_t(j->client, client, sizeof j->client);
	if (!userdb_norm_address(user, j->canon))
		j->canon[0] = '\0';
	j->password = xstrdup(password);
	rl_key(authd.rl, j->client, j->key);
	if (!conn_job_add(c, &j->link)) {
		job_free(j);
		return 0;
	}
	if (running_for(j->key) < LOGIN_PARALLEL) {
		start_check(j);
	} else {
		j->next = NULL;
		*waiting_tail = j;
		waiting_tail = &j->next;
	}
	return 0;
}
