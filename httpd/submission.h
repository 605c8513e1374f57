/* submission.h — what the EmailSubmission methods (jmap_submission.c)
 * use to send (submission_send.c). */
#ifndef TERN_HTTPD_SUBMISSION_H
#define TERN_HTTPD_SUBMISSION_H

#include "httpd/jmap.h"

/* Send email_id as identity_email (its From must be that address) with the
 * envelope given (NULL or null: made from From and To/Cc/Bcc). NULL with
 * *env_out (the envelope used) and qid (the queue id) filled, else the
 * SetError (RFC 8621 7.5: forbiddenFrom, forbiddenMailFrom, noRecipients,
 * invalidRecipients, tooManyRecipients, tooLarge, invalidEmail, ...). */
json_t *submission_send(struct jcall *c, const char *email_id, const char *identity_email,
			json_t *given_env, json_t **env_out, char qid[65]);

#endif
