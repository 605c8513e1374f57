/* parser.h — reading and tokenising IMAP commands (RFC 3501 9, RFC 7888).
 *
 * cmdreader collects one complete command from the network: lines plus the
 * literals they announce ("{N}" synchronising: the caller sends "+ ..." first;
 * "{N+}" non-synchronising). Every size is bounded: a line, the whole command,
 * and each literal (APPEND's message literal has its own, larger limit). A
 * literal over its limit is refused before the client sends it.
 *
 * The tokeniser then walks the collected bytes ("tag SP command [SP args] CRLF",
 * literals inline as "{N}CRLF<N octets>"), with a bounded nesting depth. */
#ifndef TERN_IMAPD_PARSER_H
#define TERN_IMAPD_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

struct cmdreader {
	struct evbuffer *cmd;	/* the command collected so far */
	size_t literal_left;	/* octets of the current literal still to come */
	bool in_literal;
	/* an APPEND literal (CR_APPEND_LITERAL) goes where the session says:
	 * into cmd, to a file (CRLF -> LF, as Maildir files are stored), or
	 * nowhere (refused while the client sends it anyway) */
	bool deciding;		/* CR_APPEND_LITERAL returned, no cr_* choice yet */
	bool lit_sync;		/* the client waits for "+" before the literal */
	bool spooling, spool_cr, spool_err;
	bool spool_raw;		/* a literal8's octets: to the file exactly as sent */
	int spool_fd;		/* -1: discard */
	bool skipping;		/* discarding the rest of an over-long line */
	size_t line_max, cmd_max, append_max;
	size_t literal_total;	/* octets of literals in this command */
	char tag[64];		/* tag of the command being collected */
};

enum cr_status {
	CR_MORE,	/* need more input */
	CR_DONE,	/* a command is in r->cmd */
	CR_CONTINUE,	/* a synchronising literal was announced: send "+ Ready", then call again */
	CR_TOOLONG,	/* line or command too long: reply BAD (tag in *tag), input resynchronised */
	CR_LITERAL_TOOBIG,	/* synchronising literal over the limit: reply NO [TOOBIG]; command dropped */
	CR_FATAL,	/* non-synchronising literal over the limit: BYE and close */
	CR_APPEND_LITERAL,	/* an APPEND literal of literal_left octets is announced
				 * (lit_sync: the client waits for "+"): call cr_inline,
				 * cr_spool or cr_drop, then feed again */
};

/* An ID command's lines and literals may reach this even where line_max and
 * cmd_max are smaller: RFC 2971's 30 pairs of 30 + 1024 octets, quoted. */
#define CR_ID_MAX	(64 * 1024)
/* Input a reader may need buffered to see one whole line (or that it is too
 * long): what a read watermark must leave room for. */
size_t cr_input_room(const struct cmdreader *r);

void cr_init(struct cmdreader *r, size_t line_max, size_t cmd_max, size_t append_max);
void cr_free(struct cmdreader *r);
/* Consume input from in. tag (>= 64 bytes) receives the tag for error replies. */
enum cr_status cr_feed(struct cmdreader *r, struct evbuffer *in, char *tag, size_t taglen);
/* Discard the collected command (after it was handled). */
void cr_reset(struct cmdreader *r);
/* After CR_APPEND_LITERAL: the literal joins the command as any other. */
void cr_inline(struct cmdreader *r);
/* ... its octets go to fd as they arrive (-1: dropped); the command keeps
 * only the "{n}" announcement. spool_err is set if a write fails. */
void cr_spool(struct cmdreader *r, int fd);
/* ... as cr_spool, the octets written exactly as they arrive (a literal8
 * APPEND: binary content, converted at the end of the command). */
void cr_spool_raw(struct cmdreader *r, int fd);
/* ... the command is dropped (a synchronising literal refused before the
 * client sent it). */
void cr_drop(struct cmdreader *r);

/* ---- tokeniser ---- */

#define IP_MAX_DEPTH 32

struct ip {
	const char *p, *end;
	int depth;
	bool bad;
	const char *why;
	bool utf8;	/* IMAP4rev2: mailbox names arrive in UTF-8 */
};

void ip_init(struct ip *ip, const char *buf, size_t len);
/* True at the end of the command (only CRLF left). */
bool ip_eol(struct ip *ip);
bool ip_sp(struct ip *ip);			/* exactly one space */
bool ip_char(struct ip *ip, char c);		/* consume c if next */
bool ip_peek(struct ip *ip, char c);
/* Tokens: malloc'd, NUL-terminated (len optional). NULL with ip->bad set. */
char *ip_atom(struct ip *ip);			/* ATOM-CHARs */
char *ip_tag(struct ip *ip);			/* tag: ASTRING-CHARs except '+' */
char *ip_string(struct ip *ip, size_t *len);	/* quoted or literal */
char *ip_astring(struct ip *ip, size_t *len);	/* atom (with ']') or string */
char *ip_nstring(struct ip *ip, size_t *len, bool *nil);
/* A list-mailbox: atom with % and *, or string. */
char *ip_listmbox(struct ip *ip);
/* Raw chars up to one of stops (no literals); for fetch sections etc. */
char *ip_until(struct ip *ip, const char *stops);
bool ip_number(struct ip *ip, uint64_t max, uint64_t *out);
/* The announcement "{n}", "{n+}" or "~{n}" and its CRLF, of a literal whose
 * octets are not in the command (spooled): true with n set. */
bool ip_literal_header(struct ip *ip, uint64_t *n);
void ip_fail(struct ip *ip, const char *why);

/* Mailbox names are returned as sent; arg_mailbox (session.h) converts the
 * UTF-8 names of IMAP4rev2 sessions (ip->utf8) to the stored form. */

/* ---- sequence sets ---- */
/* "*" is SEQ_STAR, outside the range of numbers: 4294967295 is a legal
 * nz-number (RFC 3501 9), so "UID 1:4294967295" names every UID and
 * "UID 4294967295" does not name the last message. */
#define SEQ_STAR UINT64_MAX
struct seqrange {
	uint64_t lo, hi;	/* a number or SEQ_STAR, as written (lo may exceed hi) */
};
struct seqset {
	struct seqrange *r;
	size_t n;
	bool last;	/* "$": the saved search result (RFC 5182, RFC 9051 6.4.4.1);
			 * no ranges: the selected view resolves it */
};
/* Parse "1:4,7,9:*" (numbers 1..4294967295, '*' stored as SEQ_STAR) or "$". */
bool seqset_parse(const char *s, struct seqset *out);
void seqset_free(struct seqset *s);
/* Membership given the value of '*' (largest seq or UID); "$" has no
 * members here (see view_set_has). */
bool seqset_has(const struct seqset *s, uint32_t v, uint32_t star);
/* Is every number of s (other than '*') at most max? */
bool seqset_within(const struct seqset *s, uint32_t max);

#endif
