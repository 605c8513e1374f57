/* session.c — a user's mail process (see session.h): the loop, the
 * dispatch of relayed requests, and the answers. */
#include "httpd/session.h"
#include "httpd/blob.h"
#include "httpd/chan.h"
#include "httpd/jmap.h"
#include "httpd/proto.h"
#include "httpd/push.h"
#include "httpd/sess.h"
#include "common/log.h"
#include "common/util.h"

#include <event2/event.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void session_conf_load(struct session_conf *sc, const struct instance *in, const struct cfg *conf)
{
	sc->base_url = https_base_url(in, conf);
	if (!sc->base_url)
		fatal("httpd.conf: public_host %s is not a host name", cfg_str(conf, "public_host"));
	jmap_limits_load(&sc->lim, conf);
	sc->ping_min_s = cfg_int(conf, "event_ping_min");
}

void sess_reply(struct sess *s, uint32_t id, int status, const char *ctype, const char *hdrs,
		const void *body, size_t len)
{
	struct ipc_msg m;
	ipc_msg_init(&m, HTTP_RES, id);
	ipc_put_u32(&m, (uint32_t)status);
	ipc_put_str(&m, ctype ? ctype : "");
	ipc_put_str(&m, hdrs ? hdrs : "");
	if (chan_put_body(&m, body, len) < 0) {
		ipc_msg_free(&m);
		ipc_msg_init(&m, HTTP_RES, id);
		ipc_put_u32(&m, 503);
		ipc_put_str(&m, "");
		ipc_put_str(&m, "");
		chan_put_body(&m, "", 0);
	}
	chan_send(s->ch, &m);
}

void sess_reply_fd(struct sess *s, uint32_t id, int status, const char *ctype, const char *hdrs,
		   int fd, size_t len)
{
	struct ipc_msg m;
	ipc_msg_init(&m, HTTP_RES, id);
	ipc_put_u32(&m, (uint32_t)status);
	ipc_put_str(&m, ctype ? ctype : "");
	ipc_put_str(&m, hdrs ? hdrs : "");
	if (chan_put_body_fd(&m, fd, len) < 0) {
		ipc_msg_free(&m);
		sess_reply(s, id, 500, "text/plain", NULL, "cannot read the blob\n", 21);
		return;
	}
	chan_send(s->ch, &m);
}

void sess_reply_json(struct sess *s, uint32_t id, int status, const char *ctype, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text) {
		sess_reply(s, id, 500, "text/plain", NULL, "out of memory\n", 14);
		return;
	}
	sess_reply(s, id, status, ctype, "Cache-Control: no-store\n", text, strlen(text));
	free(text);
}

void sess_problem(struct sess *s, uint32_t id, int status, const char *type, const char *limit,
		  const char *detail)
{
	json_t *o = json_pack("{s:s, s:i, s:s}", "type", type, "status", status, "detail", detail);
	if (limit)
		json_object_set_new(o, "limit", json_string(limit));
	sess_reply_json(s, id, status, "application/problem+json", o);
}

/* A process that has answered everything gives back the heap its work
 * left free: glibc keeps it otherwise (the trim threshold grows with the
 * large blocks a sync frees), and an idle EventSource stream keeps the
 * process alive (docs/PERFORMANCE.md: about 400 KiB of a 750 KiB heap). */
#define QUIET_S 2

static void on_quiet(evutil_socket_t fd, short what, void *arg)
{
	malloc_trim(0);
}

/* (Re)starts the wait: the trim comes QUIET_S after the last work. */
static void quiet_later(struct sess *s)
{
	struct timeval tv = { QUIET_S, 0 };
	evtimer_add(s->quiet, &tv);
}

void sess_event(struct sess *s, uint32_t id, const char *text)
{
	quiet_later(s);
	struct ipc_msg m;
	ipc_msg_init(&m, HTTP_EVENT, id);
	ipc_put_str(&m, text);
	chan_send(s->ch, &m);
}

/* The front sent what it never sends: the session ends (the front starts
 * another for the user's next request). */
static void session_malformed(struct sess *s, const struct ipc_msg *m)
{
	log_err("http session: user=%s: malformed message (type %u) from the front", s->user,
		m->hdr.type);
	event_base_loopexit(s->base, NULL);
}

/* Kinds whose handler takes no body still get the frame read to its end:
 * the body (an HTTP client may send one with a GET) is checked and dropped. */
static bool body_checked(uint32_t kind, struct ipc_msg *m)
{
	if (kind == REQ_API || kind == REQ_UPLOAD)
		return !m->bad;	/* their handler reads it with chan_get_body* */
	size_t len;
	const void *inl;
	int fd;
	if (!chan_get_body_ref(m, UINT64_MAX, &len, &inl, &fd))
		return false;
	if (fd >= 0)
		close(fd);
	return true;
}

static void on_request(struct sess *s, struct ipc_msg *m)
{
	uint32_t id = m->hdr.id;
	uint32_t kind = ipc_get_u32(m);
	const char *arg = ipc_get_str(m, CHAN_ARG_MAX);
	const char *ctype = ipc_get_str(m, 256);
	if (!body_checked(kind, m)) {
		session_malformed(s, m);
		return;
	}
	switch (kind) {
	case REQ_SESSION:
		jmap_session_resource(s, id);
		break;
	case REQ_API:
		jmap_api(s, id, ctype, m);
		break;
	case REQ_UPLOAD:
		blob_upload(s, id, arg, ctype, m);
		break;
	case REQ_DOWNLOAD:
		blob_download(s, id, arg);
		break;
	case REQ_EVENTS:
		push_start(s, id, arg);
		break;
	default:
		sess_problem(s, id, 400, "about:blank", NULL, "Unknown request");
	}
}

static void on_msg(struct chan *c, struct ipc_msg *m, void *arg)
{
	struct sess *s = arg;
	quiet_later(s);
	if (m->hdr.type == HTTP_REQ)
		on_request(s, m);
	else if (m->hdr.type == HTTP_CANCEL && ipc_end(m))
		push_cancel(s, m->hdr.id);
	else
		session_malformed(s, m);
}

static void on_close(struct chan *c, const char *why, void *arg)
{
	struct sess *s = arg;
	event_base_loopexit(s->base, NULL);
}

/* The JMAP account id of user: stable, opaque, URL-safe. */
static void account_id(const char *user, char out[ACCOUNT_ID_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_Digest(user, strlen(user), md, &n, EVP_sha256(), NULL);
	out[0] = 'a';
	for (int i = 0; i < 8; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
}

int session_run(int fd, const char *user, const struct session_conf *sc)
{
	struct sess s = { .user = user, .conf = sc };
	account_id(user, s.account);	/* no_new_privs, no fork, no core: mailjail_confine */
	signal(SIGPIPE, SIG_IGN);
	s.base = event_base_new();
	s.quiet = evtimer_new(s.base, on_quiet, &s);
	s.ch = chan_new(s.base, fd, on_msg, on_close, &s);
	push_init(&s);
	account_init(&s.acct);
	blob_expire();
	event_base_dispatch(s.base);
	push_free(&s);
	account_free(&s.acct);
	chan_free(s.ch);
	event_free(s.quiet);
	event_base_free(s.base);
	log_debug("http session: user=%s ended", user);
	return 0;
}
