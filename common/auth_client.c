/* auth_client.c — auth channel messages (build, parse) and the blocking client. */
#include "common/auth_client.h"
#include "common/ipc.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


void auth_reply_free(struct auth_reply *r)
{
	free(r->user);
	free(r->token);
	free(r->host);
	auth_boxes_free(r->boxes, r->n);
	for (size_t i = 0; i < r->naddr; i++)
		free(r->addrs[i]);
	free(r->addrs);
	memset(r, 0, sizeof *r);
}

void auth_reply_tempfail(struct auth_reply *r, uint16_t req_type)
{
	memset(r, 0, sizeof *r);
	r->type = (uint16_t)(req_type + 1);
	r->tempfail = true;
	switch (req_type) {
	case AUTH_LOGIN_REQ:
	case AUTH_SITE_LOGIN_REQ: r->result = AUTH_TEMPFAIL; break;
	case AUTH_RCPT_REQ:
	case AUTH_ROUTE_REQ: r->result = RCPT_TEMPFAIL; r->expand = EXPAND_TEMPFAIL; break;
	case AUTH_EXPAND_REQ: r->result = EXPAND_TEMPFAIL; break;
	default: r->result = 0; break;
	}
	r->user = xstrdup("");
	r->token = xstrdup("");
}

static bool parse_expand(struct ipc_msg *m, struct auth_reply *r)
{
	return auth_boxes_get(m, AUTH_MAX_BOXES, &r->boxes, &r->n);
}

/* result holds n already */
static bool parse_addresses(struct ipc_msg *m, struct auth_reply *r)
{
	if (m->bad || r->result > AUTH_MAX_ADDRESSES)
		return false;
	r->addrs = xcalloc(r->result ? r->result : 1, sizeof *r->addrs);
	for (uint32_t i = 0; i < r->result; i++) {
		const char *a = ipc_get_str(m, AUTH_MAX_FIELD);
		if (m->bad || !*a)
			return false;
		r->addrs[r->naddr++] = xstrdup(a);
	}
	return true;
}

static bool parse_fields(struct ipc_msg *m, struct auth_reply *r)
{
	r->result = ipc_get_u32(m);
	switch (m->hdr.type) {
	case AUTH_LOGIN_RES:
	case AUTH_SITE_LOGIN_RES: {
		const char *u = ipc_get_str(m, AUTH_MAX_FIELD);
		const char *t = ipc_get_str(m, AUTH_MAX_FIELD);
		const char *host = ipc_get_str(m, AUTH_MAX_FIELD);
		if (m->bad)
			return false;
		r->user = xstrdup(u);
		r->token = xstrdup(t);
		r->host = xstrdup(host);
		return r->result <= AUTH_LOCKED;
	}
	case AUTH_RCPT_RES:
	case AUTH_ROUTE_RES: {
		const char *host = ipc_get_str(m, AUTH_MAX_FIELD);
		if (m->bad)
			return false;
		r->host = xstrdup(host);
		if (m->hdr.type == AUTH_ROUTE_RES) {
			r->expand = ipc_get_u32(m);
			if (m->bad || r->expand > EXPAND_TEMPFAIL || !parse_expand(m, r))
				return false;
		}
		return r->result <= RCPT_RELAY;
	}
	case AUTH_SENDER_RES:
		return r->result <= 1;
	case AUTH_USER_RES:
		r->quota = ipc_get_u64(m);
		return r->result <= 1;
	case AUTH_EXPAND_RES:
		return r->result <= EXPAND_TEMPFAIL && parse_expand(m, r);
	case AUTH_ADDRESSES_RES:
		return parse_addresses(m, r);
	}
	return false;
}

bool auth_reply_parse(struct ipc_msg *m, uint16_t req_type, struct auth_reply *r)
{
	memset(r, 0, sizeof *r);
	r->type = m->hdr.type;
	if (m->hdr.type != req_type + 1 || !parse_fields(m, r) || !ipc_end(m)) {
		auth_reply_free(r);
		auth_reply_tempfail(r, req_type);
		return false;
	}
	if (!r->user)
		r->user = xstrdup("");
	if (!r->token)
		r->token = xstrdup("");
	if (!r->host)
		r->host = xstrdup("");
	return true;
}

static void req_login(struct ipc_msg *m, uint16_t type, uint32_t id, const char *service,
		      const char *user, const char *password, const char *client_ip)
{
	ipc_msg_init(m, type, id);
	m->sensitive = true;	/* wiped wherever it is copied, grown or freed */
	ipc_put_str(m, service);
	ipc_put_str(m, user);
	ipc_put_str(m, password);
	ipc_put_str(m, client_ip);
}

void auth_req_login(struct ipc_msg *m, uint32_t id, const char *service, const char *user,
		    const char *password, const char *client_ip)
{
	req_login(m, AUTH_LOGIN_REQ, id, service, user, password, client_ip);
}

void auth_req_site_login(struct ipc_msg *m, uint32_t id, const char *service, const char *user,
			 const char *secret, const char *client_ip)
{
	req_login(m, AUTH_SITE_LOGIN_REQ, id, service, user, secret, client_ip);
}

void auth_req_rcpt(struct ipc_msg *m, uint32_t id, const char *address)
{
	ipc_msg_init(m, AUTH_RCPT_REQ, id);
	ipc_put_str(m, address);
}

void auth_req_sender(struct ipc_msg *m, uint32_t id, const char *user, const char *address)
{
	ipc_msg_init(m, AUTH_SENDER_REQ, id);
	ipc_put_str(m, user);
	ipc_put_str(m, address);
}

void auth_req_expand(struct ipc_msg *m, uint32_t id, const char *address)
{
	ipc_msg_init(m, AUTH_EXPAND_REQ, id);
	ipc_put_str(m, address);
}

void auth_req_user(struct ipc_msg *m, uint32_t id, const char *user)
{
	ipc_msg_init(m, AUTH_USER_REQ, id);
	ipc_put_str(m, user);
}

void auth_req_addresses(struct ipc_msg *m, uint32_t id, const char *user)
{
	ipc_msg_init(m, AUTH_ADDRESSES_REQ, id);
	ipc_put_str(m, user);
}

void auth_req_route(struct ipc_msg *m, uint32_t id, const char *address)
{
	ipc_msg_init(m, AUTH_ROUTE_REQ, id);
	ipc_put_str(m, address);
}

/* ---- blocking client ---- */

int auth_sync_open(struct auth_sync *c, const char *path, int timeout_ms)
{
	memset(c, 0, sizeof *c);
	c->path = xstrdup(path);
	c->timeout_ms = timeout_ms;
	c->next_id = 1;
	c->fd = ipc_connect(path);
	return c->fd < 0 ? -1 : 0;
}

void auth_sync_close(struct auth_sync *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

static void drop(struct auth_sync *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Wait for the reply with our id; older replies (from a request that timed
 * out earlier) are skipped. */
static int wait_reply(struct auth_sync *c, uint32_t id, uint16_t type, struct auth_reply *r)
{
	for (int skipped = 0; skipped < 64; skipped++) {
		struct ipc_msg res;
		if (ipc_recv(c->fd, &res, c->timeout_ms) < 0)
			return -1;
		if (res.hdr.id != id) {
			ipc_msg_free(&res);
			continue;
		}
		bool ok = auth_reply_parse(&res, type, r);
		ipc_msg_free(&res);
		return ok ? 0 : -1;
	}
	return -1;
}

int auth_sync_call(struct auth_sync *c, struct ipc_msg *req, struct auth_reply *r)
{
	uint16_t type = req->hdr.type;
	int sent = -1;
	/* A service restart closes our connection: reconnect once by path. */
	for (int attempt = 0; attempt < 2 && sent < 0; attempt++) {
		if (c->fd < 0)
			c->fd = ipc_connect(c->path);
		if (c->fd < 0)
			break;
		req->hdr.id = c->next_id++;
		if (c->next_id == 0)
			c->next_id = 1;
		sent = ipc_send(c->fd, req);
		if (sent < 0)
			drop(c);
	}
	uint32_t id = req->hdr.id;
	ipc_msg_free(req);	/* a LOGIN request is sensitive: wiped */
	if (sent == 0 && wait_reply(c, id, type, r) == 0)
		return 0;
	/* No answer: the connection state is unknown, start afresh next time. */
	drop(c);
	auth_reply_tempfail(r, type);
	return -1;
}

int auth_sync_login(struct auth_sync *c, const char *service, const char *user,
		    const char *password, const char *client_ip, struct auth_reply *r)
{
	struct ipc_msg m;
	auth_req_login(&m, 0, service, user, password, client_ip);
	return auth_sync_call(c, &m, r);
}

int auth_sync_rcpt(struct auth_sync *c, const char *address, struct auth_reply *r)
{
	struct ipc_msg m;
	auth_req_rcpt(&m, 0, address);
	return auth_sync_call(c, &m, r);
}

int auth_sync_sender(struct auth_sync *c, const char *user, const char *address,
		     struct auth_reply *r)
{
	struct ipc_msg m;
	auth_req_sender(&m, 0, user, address);
	return auth_sync_call(c, &m, r);
}

int auth_sync_expand(struct auth_sync *c, const char *address, struct auth_reply *r)
{
	struct ipc_msg m;
	auth_req_expand(&m, 0, address);
	return auth_sync_call(c, &m, r);
}

int auth_sync_user(struct auth_sync *c, const char *user, struct auth_reply *r)
{
	struct ipc_msg m;
	auth_req_user(&m, 0, user);
	return auth_sync_call(c, &m, r);
}
