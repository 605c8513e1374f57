/* handle_login.c — AUTH_LOGIN_REQ: check a password, with the failure-rate
 * limiter. Failures (and refusals of a locked-out client) are answered after
 * failure_delay; the log names the user, service and client, never the password. */
#include "authd/authd.h"
#include "authd/ratelimit.h"
#include "common/auth_client.h"
#include "common/log.h"
#include "common/userdb.h"
#include "common/util.h"

#include <string.h>

static bool known_service(const char *s)
{
	return !strcmp(s, "smtp") || !strcmp(s, "pop3") || !strcmp(s, "imap") || !strcmp(s, "mailctl");
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

int handle_login(struct conn *c, struct ipc_msg *req)
{
	const char *service = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *user = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *password = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *client = ipc_get_str(req, AUTH_MAX_FIELD);
	char canon[USERDB_MAX_ADDR] = "";
	if (!ipc_end(req) || !known_service(service))
		return -1;
	uint64_t now = now_ms();
	if (rl_locked(authd.rl, client, now)) {
		log_warn("login: service=%s user=%.100s client=%.64s result=locked (too many failures)",
			 service, user, client);
		reply(c, req->hdr.id, AUTH_LOCKED, "", "", authd.fail_delay_ms);
		return 0;
	}
	if (!userdb_norm_address(user, canon))
		canon[0] = '\0';
	int r = userdb_check_password(authd.db_dir, canon[0] ? canon : user, password);
	if (r < 0) {
		log_err("login: service=%s user=%.100s client=%.64s result=tempfail (user database unreadable)",
			service, user, client);
		reply(c, req->hdr.id, AUTH_TEMPFAIL, "", "", 0);
	} else if (r == 1) {
		char token[AUTH_TOKEN_MAX];
		token_for(service, canon, token, sizeof token);
		log_info("login: service=%s user=%s client=%.64s result=ok", service, canon, client);
		reply(c, req->hdr.id, AUTH_OK, canon, token, 0);
	} else {
		unsigned n = rl_failure(authd.rl, client, now);
		log_warn("login: service=%s user=%.100s client=%.64s result=failed failures=%u%s",
			 service, user, client, n,
			 rl_locked(authd.rl, client, now) ? " (client locked out)" : "");
		reply(c, req->hdr.id, AUTH_FAIL, "", "", authd.fail_delay_ms);
	}
	return 0;
}
