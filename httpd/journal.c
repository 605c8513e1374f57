/* journal.c — the account's JMAP journal (see journal.h). */
#include "httpd/journal.h"
#include "common/log.h"
#include "common/map.h"
#include "common/util.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void new_epoch(json_t *n)
{
	unsigned char r[4];
	char hex[9];
	if (RAND_bytes(r, sizeof r) != 1)
		fatal("no random bytes");
	snprintf(hex, sizeof hex, "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
	json_object_set_new(n, "epoch", json_string(hex));
	json_object_set_new(n, "n", json_integer(0));
}

struct journal *journal_open(bool write)
{
	struct map *m = map_open(JOURNAL_FILE, write ? MAP_WRITE : MAP_READ);
	if (!m && !write && errno == ENOENT) {
		/* nothing written yet: make it, then read */
		struct journal *w = journal_open(true);
		journal_close(w);
		m = map_open(JOURNAL_FILE, MAP_READ);
	}
	if (!m) {
		log_err("jmap: cannot open %s: %s", JOURNAL_FILE, strerror(errno));
		return NULL;
	}
	struct journal *j = xcalloc(1, sizeof *j);
	j->m = m;
	j->write = write;
	j->n = journal_get_json(j, "N");
	if (!json_is_object(j->n) || !json_is_string(json_object_get(j->n, "epoch"))) {
		json_decref(j->n);
		j->n = json_object();
		new_epoch(j->n);
		if (write)
			journal_put_json(j, "N", j->n);
	}
	return j;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (map_close(j->m) < 0)
		log_err("jmap: cannot write %s: %s", JOURNAL_FILE, strerror(errno));
	json_decref(j->n);
	free(j);
}

char *journal_get(struct journal *j, const char *key)
{
	char *v = NULL;
	size_t n;
	return map_get(j->m, key, &v, &n) == 1 ? v : NULL;
}

void journal_put(struct journal *j, const char *key, const char *val)
{
	if (map_put(j->m, key, val, strlen(val)) < 0)
		log_err("jmap: cannot write %s to %s", key, JOURNAL_FILE);
}

void journal_del(struct journal *j, const char *key)
{
	map_del(j->m, key);
}

json_t *journal_get_json(struct journal *j, const char *key)
{
	char *v = journal_get(j, key);
	json_t *o = v ? json_loads(v, 0, NULL) : NULL;
	free(v);
	return o;
}

void journal_put_json(struct journal *j, const char *key, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);
	journal_put(j, key, s ? s : "null");
	free(s);
}

static uint64_t counter(json_t *n, const char *name)
{
	json_t *v = json_object_get(n, name);
	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

char *journal_state(struct journal *j, const char *type)
{
	return xasprintf("%s.%" PRIu64, json_string_value(json_object_get(j->n, "epoch")),
			 counter(j->n, type));
}

json_t *journal_states(struct journal *j)
{
	static const char *const types[] = { "Mailbox", "Email", "Thread", "EmailSubmission",
					     "Identity", "VacationResponse", "EmailDelivery" };
	json_t *o = json_object();
	for (size_t i = 0; i < ARRAY_LEN(types); i++) {
		char *s = journal_state(j, types[i]);
		json_object_set_new(o, types[i], json_string(s));
		free(s);
	}
	return o;
}

static void record_key(uint64_t n, char out[24])
{
	snprintf(out, 24, "C%016" PRIu64, n);
}

void journal_record(struct journal *j, json_t *changes)
{
	if (json_object_size(changes) == 0)
		return;
	uint64_t n = counter(j->n, "n") + 1;
	char key[24];
	record_key(n, key);
	journal_put_json(j, key, changes);
	json_object_set_new(j->n, "n", json_integer((json_int_t)n));
	const char *type;
	json_t *v;
	json_object_foreach(changes, type, v)
		json_object_set_new(j->n, type, json_integer((json_int_t)n));
	journal_put_json(j, "N", j->n);
	if (n > JOURNAL_KEEP) {
		record_key(n - JOURNAL_KEEP, key);
		journal_del(j, key);
	}
}

/* "EPOCH.n" of this journal: n, else false. */
static bool parse_state(struct journal *j, const char *s, uint64_t *n)
{
	const char *epoch = json_string_value(json_object_get(j->n, "epoch"));
	size_t el = strlen(epoch);
	return s && !strncmp(s, epoch, el) && s[el] == '.' && parse_u64(s + el + 1, UINT64_MAX, n);
}

/* Fold one record's changes of a type into acc ({id: {"s": c|u|d, "k": bool}}). */
static void fold(json_t *acc, json_t *t)
{
	static const char *const kinds[] = { "c", "u", "k", "d" };
	for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
		size_t x;
		json_t *id;
		json_array_foreach(json_object_get(t, kinds[i]), x, id) {
			const char *key = json_string_value(id);
			json_t *e = json_object_get(acc, key);
			const char *prev = e ? json_string_value(json_object_get(e, "s")) : NULL;
			char k = kinds[i][0];
			if (k == 'd' && prev && *prev == 'c') {
				json_object_del(acc, key);	/* born and gone in between */
				continue;
			}
			const char *now = k == 'd' ? "d" : k == 'c' ? (prev && *prev == 'd' ? "u" : "c")
				       : prev && *prev == 'c' ? "c" : "u";
			bool counts = k == 'k' && (!prev || json_is_true(json_object_get(e, "k")));
			if (k == 'c' && prev && *prev == 'd')
				counts = false;
			json_object_set_new(acc, key, json_pack("{s:s, s:b}", "s", now, "k", counts));
		}
	}
}

int journal_changes(struct journal *j, const char *type, const char *since, uint64_t max,
		    struct jchanges *out)
{
	uint64_t from, last = counter(j->n, "n"), upto = from = 0;
	memset(out, 0, sizeof *out);
	if (!parse_state(j, since, &from) || from > last ||
	    (last > JOURNAL_KEEP && from < last - JOURNAL_KEEP && from < counter(j->n, type)))
		return -1;
	json_t *acc = json_object();
	upto = from;
	for (uint64_t n = from + 1; n <= last; n++) {
		char key[24];
		record_key(n, key);
		json_t *rec = journal_get_json(j, key);
		json_t *t = json_object_get(rec, type);
		if (t) {
			json_t *trial = json_deep_copy(acc);
			fold(trial, t);
			if (max && json_object_size(trial) > max) {
				json_decref(trial);
				json_decref(rec);
				if (upto == from) {
					json_decref(acc);
					return -1;	/* one change is bigger than max */
				}
				out->more = true;
				break;
			}
			json_decref(acc);
			acc = trial;
		}
		json_decref(rec);
		upto = n;
	}
	if (!out->more)
		upto = counter(j->n, type) > from ? counter(j->n, type) : from;
	out->created = json_array();
	out->updated = json_array();
	out->destroyed = json_array();
	out->counts_only = true;
	const char *id;
	json_t *e;
	json_object_foreach(acc, id, e) {
		const char *s = json_string_value(json_object_get(e, "s"));
		json_array_append_new(*s == 'c' ? out->created : *s == 'd' ? out->destroyed
					       : out->updated, json_string(id));
		if (*s == 'u' && !json_is_true(json_object_get(e, "k")))
			out->counts_only = false;
	}
	json_decref(acc);
	out->new_state = xasprintf("%s.%" PRIu64, json_string_value(json_object_get(j->n, "epoch")),
				   upto);
	return 0;
}

void jchanges_free(struct jchanges *c)
{
	json_decref(c->created);
	json_decref(c->updated);
	json_decref(c->destroyed);
	free(c->new_state);
}
