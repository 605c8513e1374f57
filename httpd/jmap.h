/* jmap.h — JMAP (RFC 8620) in a mail process: the session resource, the API
 * endpoint with its request-level checks, method dispatch and result
 * references. Methods live in jmap_*.c files, one data type each. */
#ifndef TERN_HTTPD_JMAP_H
#define TERN_HTTPD_JMAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct sess;
struct ipc_msg;

#define CAP_CORE "urn:ietf:params:jmap:core"
#define CAP_MAIL "urn:ietf:params:jmap:mail"
#define CAP_SUBMISSION "urn:ietf:params:jmap:submission"
#define CAP_VACATION "urn:ietf:params:jmap:vacationresponse"

#define ERR_PREFIX "urn:ietf:params:jmap:error:"

void jmap_session_resource(struct sess *s, uint32_t id);
/* The "state" of the session resource (changes only with what it says). */
const char *jmap_session_state(struct sess *s);
/* The current state string of every data type: {"Mailbox": "...", ...}. */
json_t *jmap_states(struct sess *s);
void jmap_api(struct sess *s, uint32_t id, const char *ctype, struct ipc_msg *m);
/* The request body once it has left the channel (jmap_api; the fuzzer). */
void jmap_api_request(struct sess *s, uint32_t id, const char *ctype, const char *body,
		      size_t len);

/* ---- for the methods ---- */

/* One method call being answered. */
struct jcall {
	struct sess *s;
	json_t *responses;	/* methodResponses so far */
	json_t *created_ids;	/* creation id -> id, for the whole request */
	const char *call_id;
	const char *name;
};

typedef void (*jmap_fn)(struct jcall *c, json_t *args);

struct jmap_method {
	const char *name;
	const char *capability;	/* must be in "using" */
	jmap_fn fn;
};

/* Append [name, args, callId] (args is stolen). */
void jmap_reply(struct jcall *c, const char *name, json_t *args);
/* Append ["error", {"type": type[, "description": desc]}, callId]. */
void jmap_error(struct jcall *c, const char *type, const char *desc);
/* Append an error whose object the caller built (stolen; needs "type"). */
void jmap_error_obj(struct jcall *c, json_t *err);
/* args.accountId is this account: else answers accountNotFound (or
 * invalidArguments when absent or not a string) and returns false. */
bool jmap_account_ok(struct jcall *c, json_t *args);
/* Unknown or mistyped arguments: true when every key of args is in the
 * NULL-terminated list known, else answers invalidArguments naming it. */
bool jmap_args_known(struct jcall *c, json_t *args, const char *const *known);

/* Methods of each data type (NULL-name terminated tables). */
extern const struct jmap_method jmap_core_methods[];
extern const struct jmap_method jmap_mailbox_methods[];
extern const struct jmap_method jmap_email_methods[];
extern const struct jmap_method jmap_email_import_methods[];
extern const struct jmap_method jmap_snippet_methods[];
extern const struct jmap_method jmap_identity_methods[];
extern const struct jmap_method jmap_submission_methods[];
extern const struct jmap_method jmap_vacation_methods[];
void jmap_email_set(struct jcall *c, json_t *args);
void jmap_mailbox_set(struct jcall *c, json_t *args);

#define IDENTITY_ID_LEN 17	/* "I" + 16 hex digits */
/* The Identity id of a sending address (stable, case ignored). */
void jmap_identity_id(const char *email, char out[IDENTITY_ID_LEN + 1]);
/* The address of identity id of the user of s (malloc'd), NULL when none;
 * *unavailable when authd cannot list the user's addresses now. */
char *jmap_identity_email(struct sess *s, const char *id, bool *unavailable);

#endif
