/* site_login.c — logins in a site of several hosts (docs/SCALING.md):
 * where a user who logged in is stored (a front-end proxies the session
 * there), and AUTH_SITE_LOGIN_REQ, the login a front-end makes at that
 * mailbox host on the user's behalf, vouched for by the site secret. */
#include "authd/authd.h"
#include "common/auth_client.h"
#include "common/directory.h"
#include "common/log.h"
#include "common/site.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* The POP3 and IMAP login roles proxy a session, httpd each JMAP request. */
static bool proxied_service(const char *service)
{
	return !strcmp(service, "imap") || !strcmp(service, "pop3") || !strcmp(service, "http");
}

int login_host(const char *service, const char *user, char host[USERDB_MAX_HOST + 1])
{
	host[0] = '\0';
	if (!authd.site || !proxied_service(service))
		return 1;
	struct userdb_user u;
	int r = dir_user_get(authd.dir, user, &u);
	if (r <= 0)
		return r < 0 ? -1 : 0;	/* removed since its password was checked */
	if (site_is_local(authd.site, u.host))
		return 1;
	if (!u.host[0])
		return 0;		/* a front-end and no mailbox host */
	strlcpy_t(host, u.host, USERDB_MAX_HOST + 1);
	return 1;
}

struct site_job {
	struct lookup l;	/* first */
	char service[8];
	char user[USERDB_MAX_ADDR];	/* normalised */
	char client[AUTH_MAX_FIELD + 1];
	int found;		/* dir_user_get */
	struct userdb_user u;
	char error[200];
};

static void work(struct lookup *l)
{
	struct site_job *j = (struct site_job *)l;
	j->found = dir_user_get(authd.dir, j->user, &j->u);
	if (j->found < 0)
		strlcpy_t(j->error, dir_last_error(), sizeof j->error);
}

static void answer(struct conn *c, uint32_t id, enum auth_result res, const char *user,
		   const char *token, uint64_t delay_ms)
{
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_SITE_LOGIN_RES, id);
	ipc_put_u32(&m, res);
	ipc_put_str(&m, user);
	ipc_put_str(&m, token);
	ipc_put_str(&m, "");
	conn_reply_later(c, &m, delay_ms);
}

static void reply(struct conn *c, struct lookup *l)
{
	struct site_job *j = (struct site_job *)l;
	if (j->found < 0) {
		log_err("site login: service=%s user=%s client=%.64s result=tempfail (directory: %s)",
			j->service, j->user, j->client, j->error);
		answer(c, j->l.id, AUTH_TEMPFAIL, "", "", 0);
	} else if (j->found == 0 || !site_is_local(authd.site, j->u.host)) {
		/* Moved meanwhile, or a front-end routing by an old entry: it
		 * looks again at the next login. */
		log_warn("site login: service=%s user=%s client=%.64s result=tempfail (%s)",
			 j->service, j->user, j->client,
			 j->found ? "its mailbox host is another host" : "no such user");
		answer(c, j->l.id, AUTH_TEMPFAIL, "", "", 0);
	} else {
		char token[AUTH_TOKEN_MAX];
		token_for(j->service, j->user, token, sizeof token);
		log_info("site login: service=%s user=%s client=%.64s result=ok", j->service,
			 j->user, j->client);
		answer(c, j->l.id, AUTH_OK, j->user, token, 0);
	}
}

int handle_site_login(struct conn *c, struct ipc_msg *req)
{
	const char *service = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *user = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *secret = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *client = ipc_get_str(req, AUTH_MAX_FIELD);
	if (!ipc_end(req) || !proxied_service(service) || !login_client_ok(client))
		return -1;
	char canon[USERDB_MAX_ADDR];
	if (!authd.site || !authd.site_secret || !site_secret_equal(authd.site_secret, secret) ||
	    !userdb_norm_address(user, canon)) {
		/* Only a peer that may log in at all gets here (peer.c): a wrong
		 * secret is a misconfigured site or a compromised login role. */
		log_warn("site login: service=%s user=%.100s client=%.64s peer=%s result=failed%s",
			 service, user, client, conn_peer(c),
			 authd.site_secret ? "" : " (this host has no site_secret_file)");
		answer(c, req->hdr.id, AUTH_FAIL, "", "", authd.fail_delay_ms);
		return 0;
	}
	struct site_job *j = xcalloc(1, sizeof *j);
	j->l.id = req->hdr.id;
	j->l.work = work;
	j->l.reply = reply;
	strlcpy_t(j->service, service, sizeof j->service);
	strlcpy_t(j->user, canon, sizeof j->user);
	strlcpy_t(j->client, client, sizeof j->client);
	lookup_submit(c, &j->l);
	return 0;
}
