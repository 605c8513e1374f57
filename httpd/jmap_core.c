/* jmap_core.c — the JMAP session resource (RFC 8620 2) and Core/echo. */
#include "httpd/jmap.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "common/util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *core_capability(const struct jmap_limits *l)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:[s,s,s]}",
			 "maxSizeUpload", (json_int_t)l->max_size_upload,
			 "maxConcurrentUpload", (json_int_t)l->max_concurrent_upload,
			 "maxSizeRequest", (json_int_t)l->max_size_request,
			 "maxConcurrentRequests", (json_int_t)l->max_concurrent_requests,
			 "maxCallsInRequest", (json_int_t)l->max_calls_in_request,
			 "maxObjectsInGet", (json_int_t)l->max_objects_in_get,
			 "maxObjectsInSet", (json_int_t)l->max_objects_in_set,
			 "collationAlgorithms", "i;ascii-numeric", "i;ascii-casemap", "i;unicode-casemap");
}

/* Everything but "state": the state is a digest of this. */
static json_t *session_body(struct sess *s)
{
	const char *base = s->conf->base_url;
	json_t *caps = json_pack("{s:o, s:{}, s:{}, s:{}}", CAP_CORE,
				 core_capability(&s->conf->lim), CAP_MAIL, CAP_SUBMISSION, CAP_VACATION);
	json_t *mail = json_pack("{s:i, s:n, s:i, s:I, s:[s,s,s,s,s,s,s,s], s:b}",
				 "maxMailboxesPerEmail", 1, "maxMailboxDepth", "maxSizeMailboxName", 255,
				 "maxSizeAttachmentsPerEmail", (json_int_t)s->conf->lim.max_size_upload,
				 "emailQuerySortOptions", "receivedAt", "sentAt", "size", "from", "to",
				 "subject", "hasKeyword", "allInThreadHaveKeyword",
				 "mayCreateTopLevelMailbox", 1);
	/* no delayed sending (sendAt is now, undoStatus final), no SMTP extensions */
	json_t *submission = json_pack("{s:i, s:{}}", "maxDelayedSend", 0, "submissionExtensions");
	json_t *account = json_pack("{s:s, s:b, s:b, s:{s:o, s:o, s:{}}}", "name", s->user,
				    "isPersonal", 1, "isReadOnly", 0, "accountCapabilities", CAP_MAIL,
				    mail, CAP_SUBMISSION, submission, CAP_VACATION);
	json_t *primary = json_pack("{s:s, s:s, s:s}", CAP_MAIL, s->account, CAP_SUBMISSION,
				    s->account, CAP_VACATION, s->account);
	char *api = xasprintf("%s/jmap/api/", base);
	char *dl = xasprintf("%s/jmap/download/{accountId}/{blobId}/{name}?accept={type}", base);
	char *ul = xasprintf("%s/jmap/upload/{accountId}/", base);
	char *ev = xasprintf("%s/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}",
			     base);
	json_t *o = json_pack("{s:o, s:{s:o}, s:o, s:s, s:s, s:s, s:s, s:s}", "capabilities", caps,
			      "accounts", s->account, account, "primaryAccounts", primary,
			      "username", s->user, "apiUrl", api, "downloadUrl", dl, "uploadUrl", ul,
			      "eventSourceUrl", ev);
	free(api);
	free(dl);
	free(ul);
	free(ev);
	return o;
}

const char *jmap_session_state(struct sess *s)
{
	static char state[17];
	if (state[0])
		return state;
	json_t *o = session_body(s);
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL);
	free(text);
	for (int i = 0; i < 8; i++)
		snprintf(state + 2 * i, 3, "%02x", md[i]);
	return state;
}

void jmap_session_resource(struct sess *s, uint32_t id)
{
	json_t *o = session_body(s);
	json_object_set_new(o, "state", json_string(jmap_session_state(s)));
	sess_reply_json(s, id, 200, "application/json", o);
}

json_t *jmap_states(struct sess *s)
{
	struct journal *j = journal_open(false);
	json_t *o = j ? journal_states(j) : json_object();
	journal_close(j);
	return o;
}

static void core_echo(struct jcall *c, json_t *args)
{
	jmap_reply(c, "Core/echo", json_incref(args));
}

const struct jmap_method jmap_core_methods[] = {
	{ "Core/echo", CAP_CORE, core_echo },
	{ NULL, NULL, NULL },
};
