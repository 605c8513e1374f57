/* handle_login.c — AUTH_LOGIN_REQ: check a password, with the failure-rate
 * limiter. The hash is computed on a worker thread (yescrypt takes tens of
 * milliseconds; the loop keeps serving meanwhile). A failure is answered after
 * the larger penalty of its client address and of its user (ratelimit.h:
 * doubling per failure up to max_failure_delay; the user's only after
 * user_max_failures); refusals of a locked-out client after failure_delay. A
 * success clears its address's count. The log names the user, service and
 * client, never the password. */
#include "authd/authd.h"
#include "authd/penalty_store.h"
#include "authd/ratelimit.h"
#include "common/auth_client.h"
#include "common/log.h"
#include "common/userdb.h"
#include "common/util.h"
#include "common/workq.h"

#include <stdlib.h>
#include <string.h>

struct login_job {
	struct conn_job link;	/* first: see conn_job */
	uint32_t id;
	char service[8];
	char user[AUTH_MAX_FIELD + 1];	/* as given (logs) */
	char canon[USERDB_MAX_ADDR];	/* normalised, "" if not an address */
	char client[AUTH_MAX_FIELD + 1];
	char *password;
	const char *db_dir;
	int result;		/* userdb_check_password */
};

static bool known_service(const char *s)
{
	return !strcmp(s, "smtp") || !strcmp(s, "pop3") || !strcmp(s, "imap") || !strcmp(s, "http") ||
	       !strcmp(s, "mailctl");
}

static void reply(struct conn *c, uint32_t id, enum auth_result res, const char *user,
		  const char *token, uint64_t delay_ms)
{
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_LOGIN_RES, id);
	ipc_put_u32(&m, res);
	ipc_put_str(&m, user);
	ipc_put_str(&m, token);
	conn_reply_later(c, &m, delay_ms);
}

/* Worker thread: touches only the job. */
static void check_work(void *arg)
{
	struct login_job *j = arg;
	j->result = userdb_check_password(j->db_dir, j->canon[0] ? j->canon : j->user, j->password);
	explicit_bzero(j->password, strlen(j->password));
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
	if (j->result < 0) {
		log_err("login: service=%s user=%.100s client=%.64s result=tempfail (user database unreadable)",
			j->service, j->user, j->client);
		reply(c, j->id, AUTH_TEMPFAIL, "", "", 0);
	} else if (j->result == 1) {
		char token[AUTH_TOKEN_MAX];
		token_for(j->service, j->canon, token, sizeof token);
		log_info("login: service=%s user=%s client=%.64s result=ok", j->service, j->canon, j->client);
		rl_forget(authd.rl, j->client);
		penalty_store_changed();
		reply(c, j->id, AUTH_OK, j->canon, token, 0);
	} else {
		fail(c, j, now);
	}
}

/* Loop thread, after check_work. */
static void check_done(void *arg)
{
	struct login_job *j = arg;
	struct conn *c = conn_job_finish(&j->link);
	if (c) {
		finish(c, j);
		conn_settle(c);
	}
	free(j->password);
	free(j);
}

int handle_login(struct conn *c, struct ipc_msg *req)
{
	const char *service = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *user = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *password = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *client = ipc_get_str(req, AUTH_MAX_FIELD);
	if (!ipc_end(req) || !known_service(service))
		return -1;
	if (rl_locked(authd.rl, client, now_ms())) {
		log_warn("login: service=%s user=%.100s client=%.64s result=locked (too many failures)",
			 service, user, client);
		reply(c, req->hdr.id, AUTH_LOCKED, "", "", authd.fail_delay_ms);
		return 0;
	}
	struct login_job *j = xcalloc(1, sizeof *j);
	j->id = req->hdr.id;
	j->db_dir = authd.db_dir;
	strlcpy_t(j->service, service, sizeof j->service);
	strlcpy_t(j->user, user, sizeof j->user);
	strlcpy_t(j->client, client, sizeof j->client);
	if (!userdb_norm_address(user, j->canon))
		j->canon[0] = '\0';
	j->password = xstrdup(password);
	if (!conn_job_add(c, &j->link)) {
		explicit_bzero(j->password, strlen(j->password));
		free(j->password);
		free(j);
		return 0;
	}
	workq_submit(authd.hashq, check_work, check_done, j);
	return 0;
}
