/* push.c — EventSource streams of a mail process (see push.h). */
#include "httpd/push.h"
#include "httpd/jmap.h"
#include "httpd/sess.h"
#include "common/util.h"

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define MAX_STREAMS 16		/* per user and front: more get 429 */
#define PING_MAX_S 3600
/* While a stream is open the Maildir is looked at this often: a delivery or
 * an IMAP STORE made by another process reaches the client within it. A
 * look that finds nothing changed costs a stat of each folder's index, new/
 * and cur/ (account_sync opens only what changed). */
#define WATCH_MS 250

struct stream {
	uint32_t id;
	json_t *types;		/* array of type names, NULL: all */
	bool close_after_state;
	struct event *ping;	/* NULL: no pings */
	uint64_t interval;
	json_t *told;		/* {type: state} last sent (or at start) */
	struct sess *s;
	struct stream *next;
};

struct push {
	struct stream *streams;
	unsigned n;
	struct event *watch;	/* runs while streams is not empty */
};

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;
	if (account_sync(&s->acct) == 0)
		push_check(s);
}

void push_init(struct sess *s)
{
	s->push = xcalloc(1, sizeof *s->push);
	s->push->watch = event_new(s->base, -1, EV_PERSIST, on_watch, s);
}

/* The watch runs exactly while some stream is open. */
static void watch_update(struct sess *s)
{
	bool on = evtimer_pending(s->push->watch, NULL);
	if (s->push->n && !on) {
		struct timeval tv = { 0, WATCH_MS * 1000 };
		evtimer_add(s->push->watch, &tv);
	} else if (!s->push->n && on) {
		evtimer_del(s->push->watch);
	}
}

static void stream_free(struct stream *st)
{
	if (st->ping)
		event_free(st->ping);
	json_decref(st->types);
	json_decref(st->told);
	free(st);
}

void push_free(struct sess *s)
{
	while (s->push->streams) {
		struct stream *st = s->push->streams;
		s->push->streams = st->next;
		stream_free(st);
	}
	event_free(s->push->watch);
	free(s->push);
}

static void unlink_stream(struct sess *s, struct stream *st)
{
	for (struct stream **pp = &s->push->streams; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			s->push->n--;
			watch_update(s);
			return;
		}
}

static void send_ping(struct stream *st)
{
	char *ev = xasprintf("event: ping\ndata: {\"interval\":%llu}\n\n",
			     (unsigned long long)st->interval);
	sess_event(st->s, st->id, ev);
	free(ev);
}

static void on_ping(evutil_socket_t fd, short what, void *arg)
{
	send_ping(arg);
}

/* Only the types the stream asked for. */
static json_t *filter_types(const struct stream *st, json_t *states)
{
	if (!st->types)
		return json_incref(states);
	json_t *out = json_object();
	size_t i;
	json_t *t;
	json_array_foreach(st->types, i, t) {
		json_t *v = json_object_get(states, json_string_value(t));
		if (v)
			json_object_set(out, json_string_value(t), v);
	}
	return out;
}

/* The stream's changed types as a "state" event; false when none changed. */
static bool tell(struct stream *st, json_t *states)
{
	json_t *now = filter_types(st, states);
	if (json_equal(now, st->told)) {
		json_decref(now);
		return false;
	}
	json_t *changed = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(now, k, v)
		if (!json_equal(v, json_object_get(st->told, k)))
			json_object_set(changed, k, v);
	json_t *ev = json_pack("{s:s, s:{s:o}}", "@type", "StateChange", "changed",
			       st->s->account, changed);
	char *data = json_dumps(ev, JSON_COMPACT);
	char *text = xasprintf("event: state\ndata: %s\n\n", data);
	sess_event(st->s, st->id, text);
	free(text);
	free(data);
	json_decref(ev);
	json_decref(st->told);
	st->told = now;
	if (st->ping) {
		struct timeval tv = { (time_t)st->interval, 0 };
		evtimer_add(st->ping, &tv);	/* a ping follows the last event */
	}
	return true;
}

/* Tell st what changed; a closeafter=state stream ends after telling. */
static void notify(struct sess *s, struct stream *st, json_t *states)
{
	if (tell(st, states) && st->close_after_state) {
		unlink_stream(s, st);
		sess_reply(s, st->id, 204, NULL, NULL, "", 0);	/* ends the stream */
		stream_free(st);
	}
}

void push_check(struct sess *s)
{
	if (!s->push->streams)
		return;
	json_t *states = jmap_states(s);
	for (struct stream *st = s->push->streams, *next; st; st = next) {
		next = st->next;
		notify(s, st, states);
	}
	json_decref(states);
}

/* types=a,b|*, closeafter=state|no, ping=N: false on a bad value. */
static bool parse_query(struct stream *st, const char *query, uint64_t ping_min)
{
	struct evkeyvalq q;
	TAILQ_INIT(&q);
	bool ok = evhttp_parse_query_str(query, &q) == 0;
	const char *types = evhttp_find_header(&q, "types");
	const char *close = evhttp_find_header(&q, "closeafter");
	const char *ping = evhttp_find_header(&q, "ping");
	uint64_t n = 0;
	if (ok && types && strcmp(types, "*")) {
		st->types = json_array();
		char *copy = xstrdup(types), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(st->types, json_string(t));
		free(copy);
	}
	if (ok && close && strcmp(close, "state") && strcmp(close, "no"))
		ok = false;
	st->close_after_state = close && !strcmp(close, "state");
	if (ok && ping && !parse_u64(ping, UINT32_MAX, &n))
		ok = false;
	if (n) {
		/* RFC 8620 7.3: the server may choose another interval; the
		 * ping data says which */
		st->interval = n < ping_min ? ping_min : n > PING_MAX_S ? PING_MAX_S : n;
		st->ping = evtimer_new(st->s->base, on_ping, st);
		struct timeval tv = { (time_t)st->interval, 0 };
		evtimer_add(st->ping, &tv);
	}
	evhttp_clear_headers(&q);
	return ok;
}

void push_start(struct sess *s, uint32_t id, const char *query)
{
	if (s->push->n >= MAX_STREAMS) {
		sess_problem(s, id, 429, "about:blank", NULL, "Too many event streams");
		return;
	}
	struct stream *st = xcalloc(1, sizeof *st);
	st->id = id;
	st->s = s;
	if (!parse_query(st, query, s->conf->ping_min_s)) {
		stream_free(st);
		sess_problem(s, id, 400, "about:blank", NULL,
			     "Bad event source arguments (types, closeafter=state|no, ping=seconds)");
		return;
	}
	/* RFC 8620 7.3: the current state of the types asked for at once (as
	 * if every one had changed), then changes from now on */
	st->told = json_object();
	st->next = s->push->streams;
	s->push->streams = st;
	s->push->n++;
	watch_update(s);
	sess_reply(s, id, 200, "text/event-stream", NULL, "", 0);
	json_t *states = jmap_states(s);
	notify(s, st, states);
	json_decref(states);
}

void push_cancel(struct sess *s, uint32_t id)
{
	for (struct stream *st = s->push->streams; st; st = st->next)
		if (st->id == id) {
			unlink_stream(s, st);
			stream_free(st);
			return;
		}
}
