/* submission_send.c — EmailSubmission/set create (RFC 8621 7.5): the
 * checks on the Email and the identity, the envelope (given, or made from
 * the header fields), the copy that leaves without its Bcc fields, and the
 * hand-over to the front (submit.h). */
#include "httpd/submission.h"
#include "httpd/email.h"
#include "httpd/jmap_util.h"
#include "httpd/proto.h"
#include "httpd/sess.h"
#include "httpd/submit.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#define HEADER_MAX (256 * 1024)	/* header block of a message to send */

/* An address the envelope may carry: addr-spec shaped, no space, no
 * control character, no angle bracket (it goes into MAIL FROM/RCPT TO). */
static bool envelope_addr_ok(const char *a)
{
	size_t n = strlen(a);
	const char *at = strrchr(a, '@');
	if (n < 3 || n > SUBMIT_ADDR_MAX || !at || at == a || !at[1])
		return false;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>')
			return false;
	return true;
}

/* The message's header block (CRLF, up to the blank line), malloc'd. */
static char *read_header(int fd, size_t len, size_t *hlen)
{
	size_t cap = len < HEADER_MAX ? len : HEADER_MAX;
	char *buf = xmalloc(cap + 1);
	ssize_t n = pread(fd, buf, cap, 0);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	char *end = NULL;
	if (n >= 2 && !memcmp(buf, "\r\n", 2))
		end = buf;	/* no header at all */
	else if ((end = memmem(buf, (size_t)n, "\r\n\r\n", 4)))
		end += 2;
	if (!end) {
		free(buf);
		return NULL;
	}
	*hlen = (size_t)(end - buf);
	return buf;
}

/* Every address of the fields name (all instances) into out (no repeats). */
static void add_addresses(const char *hdr, size_t hlen, const char *name, json_t *out)
{
	char *prop = xasprintf("header:%s:asAddresses:all", name);
	json_t *all = email_header_prop(hdr, hlen, prop);
	free(prop);
	size_t i, k;
	json_t *field, *a;
	json_array_foreach(all, i, field)
		json_array_foreach(field, k, a) {
			const char *e = json_string_value(json_object_get(a, "email"));
			if (e && !json_has_string(out, e))
				json_array_append_new(out, json_string(e));
		}
	json_decref(all);
}

/* forbiddenFrom unless every From address is the identity's. */
static bool from_is(const char *hdr, size_t hlen, const char *email)
{
	json_t *from = json_array();
	add_addresses(hdr, hlen, "From", from);
	bool ok = json_array_size(from) > 0;
	size_t i;
	json_t *v;
	json_array_foreach(from, i, v)
		ok = ok && !strcasecmp(json_string_value(v), email);
	json_decref(from);
	return ok;
}

/* The envelope object (RFC 8621 7: mailFrom, rcptTo), given or made from
 * the From and To/Cc/Bcc fields. NULL with *err. */
static json_t *envelope(json_t *given, const char *hdr, size_t hlen, const char *from,
			json_t **err)
{
	json_t *rcpts = json_array();
	const char *mail_from = from;
	if (given && !json_is_null(given)) {
		json_t *mf = json_object_get(given, "mailFrom"), *rt = json_object_get(given, "rcptTo");
		json_t *mp = json_object_get(mf, "parameters");
		mail_from = json_string_value(json_object_get(mf, "email"));
		size_t i;
		json_t *r;
		bool ok = json_is_object(given) && mail_from && json_is_array(rt) &&
			  (!mp || json_is_null(mp));
		json_array_foreach(rt, i, r) {
			const char *e = json_string_value(json_object_get(r, "email"));
			json_t *p = json_object_get(r, "parameters");
			ok = ok && e && (!p || json_is_null(p));
			if (ok && !json_has_string(rcpts, e))
				json_array_append_new(rcpts, json_string(e));
		}
		if (!ok) {
			json_decref(rcpts);
			*err = jmap_set_error("invalidProperties", "envelope: no SMTP parameters are "
					      "supported", "envelope");
			return NULL;
		}
	} else {
		add_addresses(hdr, hlen, "To", rcpts);
		add_addresses(hdr, hlen, "Cc", rcpts);
		add_addresses(hdr, hlen, "Bcc", rcpts);
	}
	json_t *bad = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(rcpts, i, r)
		if (!envelope_addr_ok(json_string_value(r)))
			json_array_append_new(bad, json_incref(r));
	if (!envelope_addr_ok(mail_from)) {
		*err = jmap_set_error("forbiddenMailFrom", "not an address", NULL);
	} else if (json_array_size(bad)) {
		*err = jmap_set_error("invalidRecipients", NULL, NULL);
		json_object_set_new(*err, "invalidRecipients", json_incref(bad));
	} else if (!json_array_size(rcpts)) {
		*err = jmap_set_error("noRecipients", NULL, NULL);
	} else if (json_array_size(rcpts) > QUEUE_MAX_RCPTS) {
		*err = jmap_set_error("tooManyRecipients", NULL, NULL);
		json_object_set_new(*err, "maxRecipients", json_integer(QUEUE_MAX_RCPTS));
	}
	json_decref(bad);
	json_t *out = NULL;
	if (!*err) {
		out = json_pack("{s:{s:s, s:n}, s:[]}", "mailFrom", "email", mail_from, "parameters",
				"rcptTo");
		json_array_foreach(rcpts, i, r)
			json_array_append_new(json_object_get(out, "rcptTo"),
					      json_pack("{s:O, s:n}", "email", r, "parameters"));
	}
	json_decref(rcpts);
	return out;
}

/* Is the field starting at p a Bcc field? */
static bool is_bcc(const char *p, const char *end)
{
	return end - p >= 4 && !strncasecmp(p, "bcc", 3) && (p[3] == ':' || p[3] == ' ' || p[3] == '\t');
}

/* The message as it leaves (RFC 8621 7.5: Bcc fields removed) in a memfd;
 * -1 on error. */
static int outgoing_copy(int fd, size_t len, const char *hdr, size_t hlen, size_t *outlen)
{
	int out = memfd_create("submit", MFD_CLOEXEC);
	if (out < 0)
		return -1;
	const char *p = hdr, *end = hdr + hlen;
	bool skip = false;
	int r = 0;
	while (p < end && r == 0) {
		const char *nl = memmem(p, (size_t)(end - p), "\r\n", 2);
		const char *next = nl ? nl + 2 : end;
		if (*p != ' ' && *p != '\t')
			skip = is_bcc(p, end);
		if (!skip)
			r = write_all(out, p, (size_t)(next - p));
		p = next;
	}
	*outlen = hlen;
	char buf[65536];
	for (off_t off = (off_t)hlen; r == 0 && (size_t)off < len;) {
		ssize_t n = pread(fd, buf, sizeof buf, off);
		if (n <= 0 || write_all(out, buf, (size_t)n) < 0)
			r = -1;
		off += n > 0 ? n : 0;
	}
	off_t size = lseek(out, 0, SEEK_END);
	if (r < 0 || size < 0) {
		close(out);
		return -1;
	}
	*outlen = (size_t)size;
	return out;
}

static json_t *send_error(const struct submit_result *r)
{
	switch (r->status) {
	case SUBMIT_SENDER:
		return jmap_set_error("forbiddenMailFrom", r->text, NULL);
	case SUBMIT_REJECT:
		return jmap_set_error("forbiddenToSend", r->text, NULL);
	default:
		return jmap_set_error("serverFail", r->text, NULL);
	}
}

/* Queue it: NULL, or the SetError. */
static json_t *send_copy(struct sess *s, int fd, size_t len, const char *hdr, size_t hlen,
			 json_t *env, char qid[65])
{
	size_t outlen;
	int out = outgoing_copy(fd, len, hdr, hlen, &outlen);
	if (out < 0)
		return jmap_set_error("serverFail", "cannot copy the message", NULL);
	json_t *rt = json_object_get(env, "rcptTo");
	size_t n = json_array_size(rt);
	const char **rcpts = xcalloc(n, sizeof *rcpts);
	for (size_t i = 0; i < n; i++)
		rcpts[i] = json_string_value(json_object_get(json_array_get(rt, i), "email"));
	const char *from = json_string_value(json_object_get(json_object_get(env, "mailFrom"),
							     "email"));
	struct submit_result r;
	submit_message(s, from, rcpts, n, out, outlen, &r);
	free(rcpts);
	if (r.status != SUBMIT_OK)
		return send_error(&r);
	strlcpy_t(qid, r.qid, 65);
	return NULL;
}

json_t *submission_send(struct jcall *c, const char *email_id, const char *identity_email,
			json_t *given_env, json_t **env_out, char qid[65])
{
	char blob[64];
	int fd;
	size_t len, hlen;
	email_blob_id(email_id, blob);
	if (email_blob_open(c->s, blob, &fd, &len) < 0)
		return jmap_set_error("invalidProperties", "no such email", "emailId");
	if (len > c->s->conf->lim.max_size_upload) {
		close(fd);
		return jmap_set_error("tooLarge", "larger than maxSizeUpload", NULL);
	}
	char *hdr = read_header(fd, len, &hlen);
	json_t *err = NULL, *env = NULL;
	if (!hdr)
		err = jmap_set_error("invalidEmail", "no header block ends within 256 kB", "emailId");
	else if (!from_is(hdr, hlen, identity_email))
		err = jmap_set_error("forbiddenFrom", "From must be the identity's address", NULL);
	else if ((env = envelope(given_env, hdr, hlen, identity_email, &err)))
		err = send_copy(c->s, fd, len, hdr, hlen, env, qid);
	free(hdr);
	close(fd);
	if (err) {
		json_decref(env);
		return err;
	}
	*env_out = env;
	return NULL;
}
