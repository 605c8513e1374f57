/* parse.h — SMTP command and ESMTP parameter parsing (RFC 5321, 1870, 3030,
 * 3461, 4954, 6152, 6531). Pure functions over one command line: no I/O, no
 * state, so they are unit-tested and fuzzed on their own. Every output is
 * bounded; an input that does not fit is a syntax error, never a truncation. */
#ifndef TERN_SMTPD_PARSE_H
#define TERN_SMTPD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_PATH_MAX	256	/* RFC 5321 4.5.3.1.3 */
#define SMTP_LOCAL_MAX	64
#define SMTP_DOMAIN_MAX	255
#define SMTP_ENVID_MAX	100	/* RFC 3461 4.4 */
#define SMTP_ORCPT_MAX	500	/* RFC 3461 4.2 */
#define SMTP_HELO_MAX	255
#define SMTP_AUTH_MAX	12288	/* RFC 4954 4: longest AUTH line */

enum smtp_verb {
	V_UNKNOWN, V_HELO, V_EHLO, V_MAIL, V_RCPT, V_DATA, V_BDAT, V_RSET, V_NOOP,
	V_QUIT, V_VRFY, V_EXPN, V_HELP, V_STARTTLS, V_AUTH, V_BURL, V_COUNT
};

/* The verb and its argument (after one or more spaces; "" when none). */
struct smtp_cmd {
	enum smtp_verb verb;
	const char *arg;
};

/* Why a MAIL/RCPT argument was refused; the session maps each to a reply. */
enum parse_status {
	P_OK,
	P_SYNTAX,	/* 501 5.5.4: not "FROM:<path>" */
	P_BAD_ADDR,	/* 501 5.1.7 (sender) / 5.1.3 (recipient) */
	P_BAD_PARAM,	/* 501 5.5.4: known parameter with a bad value */
	P_UNKNOWN_PARAM,/* 555 5.5.4 */
	P_NEED_UTF8,	/* 553 5.6.7: non-ASCII address without SMTPUTF8 */
};

enum body_type { BODY_NONE, BODY_7BIT, BODY_8BITMIME };
enum dsn_ret { RET_NONE = 0, RET_FULL = 1, RET_HDRS = 2 };

struct mail_args {
	char addr[SMTP_PATH_MAX + 1];	/* "" for the null sender */
	bool has_size;
	uint64_t size;
	enum body_type body;
	bool smtputf8;
	enum dsn_ret ret;
	char envid[SMTP_ENVID_MAX + 1];	/* xtext as received */
	bool requiretls;		/* REQUIRETLS (RFC 8689) */
};

struct rcpt_args {
	char addr[SMTP_PATH_MAX + 1];
	unsigned notify;		/* DSN_NOTIFY_* bits (queue_proto.h), 0 = not given */
	char orcpt[SMTP_ORCPT_MAX + 1];	/* "addr-type;xtext" as received */
};

/* Split a command line (without its line ending) into verb and argument. */
void parse_command(const char *line, struct smtp_cmd *out);
const char *verb_name(enum smtp_verb v);

/* Argument of MAIL ("FROM:<a> params"). */
enum parse_status parse_mail(const char *arg, struct mail_args *out);
/* Argument of RCPT ("TO:<a> params"); utf8 says the transaction is SMTPUTF8. */
enum parse_status parse_rcpt(const char *arg, bool utf8, struct rcpt_args *out);

/* Mailbox syntax (local@domain, RFC 5321 4.1.2 / RFC 6531 when utf8). */
bool valid_mailbox(const char *s, size_t n, bool utf8);
/* EHLO/HELO argument: a domain or address literal; copied printable into out. */
bool parse_helo(const char *arg, char *out, size_t outlen);
/* BDAT argument: "SIZE [LAST]". */
/* Argument of BURL (RFC 4468): "imap-url [LAST]"; the URL (at most
 * BURL_URL_MAX octets, an absolute imap URL) copied into url. */
#define BURL_URL_MAX 2048
bool parse_burl(const char *arg, char *url, size_t urlsize, bool *last);
bool parse_bdat(const char *arg, uint64_t *size, bool *last);

/* Base64 (RFC 4648, padding required, canonical): decoded length or -1. out holds at least
 * 3 * (strlen(in) / 4) bytes. */
long b64_decode(const char *in, unsigned char *out, size_t outlen);
/* Encode n bytes; out must hold 4 * ((n + 2) / 3) + 1 bytes. */
void b64_encode(const unsigned char *in, size_t n, char *out);
/* SASL PLAIN message "authzid NUL authcid NUL passwd" (RFC 4616): pointers into
 * buf (which is modified). authzid, when given, must equal authcid. */
bool parse_sasl_plain(unsigned char *buf, size_t n, const char **user, const char **pass);

/* True for valid UTF-8 without control characters (C0, DEL, C1). */
bool utf8_valid(const char *s, size_t n);

#endif
