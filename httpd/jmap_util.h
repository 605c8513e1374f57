/* jmap_util.h — what every data type's methods share (RFC 8620 5): reading
 * /get's ids and properties, answering /changes from the journal, the
 * window of /query (position, anchor, limit, total), /queryChanges, and the
 * argument checks of /set. */
#ifndef TERN_HTTPD_JMAP_UTIL_H
#define TERN_HTTPD_JMAP_UTIL_H

#include "httpd/jmap.h"

#include <stdbool.h>
#include <stdint.h>

struct journal;

/* /get: ids (NULL: all; answered invalidArguments or requestTooLarge and
 * false when wrong) with "#creation" ids resolved through createdIds, and
 * properties (NULL: the defaults). *ids and *props are new references or
 * NULL. */
bool jmap_get_args(struct jcall *c, json_t *args, json_t **ids, json_t **props,
		   const char *const *known_props);
/* Keep only the properties asked for ("id" always). */
json_t *jmap_pick(json_t *obj, json_t *props);
/* /changes answered from the journal for type. */
void jmap_changes(struct jcall *c, json_t *args, const char *type, bool counts_prop);
/* /query's window over the full, sorted list of ids: position or anchor,
 * limit, calculateTotal; answers name with queryState = state. */
void jmap_query_window(struct jcall *c, json_t *args, json_t *ids, const char *state,
		       bool can_changes);
/* The same over the first ids of a result of total ids (no anchor: ids
 * holds at least position + limit of them, or all). */
void jmap_query_window_of(struct jcall *c, json_t *args, json_t *ids, size_t total,
			  const char *state, bool can_changes);
/* A /query (changes false) or /queryChanges (true) method: accountId and
 * the known arguments checked, run gives the full sorted result (or NULL
 * after answering an error). */
typedef json_t *(*jmap_query_fn)(struct jcall *c, json_t *args);
void jmap_query_method(struct jcall *c, json_t *args, const char *type, const char *const *known,
		       jmap_query_fn run, bool changes);
/* /queryChanges: removed = every id that changed since the query state
 * (RFC 8620 5.6 allows naming more than left), added = where those still
 * matching are now. ids: the full, sorted current result. */
void jmap_query_changes(struct jcall *c, json_t *args, const char *type, json_t *ids);
/* /set: accountId, ifInState against state, the size limit; false when
 * answered with an error. */
bool jmap_set_check(struct jcall *c, json_t *args, const char *state);
/* A SetError object: {"type": type[, "description": d][, "properties": [p]]}. */
json_t *jmap_set_error(const char *type, const char *desc, const char *prop);
/* An id given as "#creationId": the id it was created as (createdIds), else
 * the string itself; NULL when a "#" reference is unknown. */
const char *jmap_resolve_id(struct jcall *c, const char *id);
/* A creation id's new id, for createdIds and later references. */
void jmap_created(struct jcall *c, const char *creation_id, const char *id);
/* Every character a JMAP Id may have (1-255 of A-Za-z0-9_-)? */
bool jmap_valid_id(const char *s);
/* The current state string of type (from the journal), malloc'd. */
char *jmap_type_state(const char *type);
/* Is the string s in array a? */
bool json_has_string(json_t *a, const char *s);
/* /set driven by one function per kind of change, each answering NULL or a
 * SetError (create: the created object's server-set properties, or NULL
 * with *err). after (may be NULL) runs before the new state is read. */
struct jmap_set_ops {
	json_t *(*create)(struct jcall *c, const char *cid, json_t *obj, json_t **err);
	json_t *(*update)(struct jcall *c, const char *id, json_t *patch);
	json_t *(*destroy)(struct jcall *c, const char *id, json_t *args);
	void (*after)(struct jcall *c);
};
void jmap_set_run(struct jcall *c, json_t *args, const char *type, const char *const *known,
		  const struct jmap_set_ops *ops);
/* JSON strings must be UTF-8: a copy of s with invalid bytes replaced. */
json_t *json_text(const char *s);
json_t *json_textn(const char *s, size_t n);

#endif
