/* parser.c — command collection with literals, tokeniser, sequence sets. */
#include "imapd/parser.h"
#include "common/linereader.h"
#include "common/util.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cr_init(struct cmdreader *r, size_t line_max, size_t cmd_max, size_t append_max)
{
	memset(r, 0, sizeof *r);
	r->spool_fd = -1;
	r->cmd = evbuffer_new();
	r->line_max = line_max;
	r->cmd_max = cmd_max;
	r->append_max = append_max;
}

void cr_free(struct cmdreader *r)
{
	if (r->cmd)
		evbuffer_free(r->cmd);
	r->cmd = NULL;
}

void cr_reset(struct cmdreader *r)
{
	evbuffer_drain(r->cmd, evbuffer_get_length(r->cmd));
	r->in_literal = false;
	r->literal_left = 0;
	r->literal_total = 0;
	r->deciding = r->spooling = r->spool_cr = r->spool_err = false;
	r->spool_fd = -1;
}

void cr_inline(struct cmdreader *r)
{
	r->deciding = false;
	r->literal_total += r->literal_left;
}

size_t cr_input_room(const struct cmdreader *r)
{
	return (r->line_max > CR_ID_MAX ? r->line_max : CR_ID_MAX) + r->line_max + 4096;
}

void cr_spool(struct cmdreader *r, int fd)
{
	r->deciding = false;
	r->spooling = true;
	r->spool_fd = fd;
	r->spool_cr = r->spool_err = r->spool_raw = false;
}

void cr_spool_raw(struct cmdreader *r, int fd)
{
	cr_spool(r, fd);
	r->spool_raw = true;
}

void cr_drop(struct cmdreader *r)
{
	cr_reset(r);
}

/* Literal octets to the spool file with CRLF turned into LF (a CR before
 * anything else is kept), or as sent (spool_raw); the buffer is drained as
 * it is written. */
static void spool_take(struct cmdreader *r, struct evbuffer *in, size_t take)
{
	char out[16384];
	while (take) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, (ev_ssize_t)take, NULL, &v, 1) < 1)
			break;
		size_t n = v.iov_len < take ? v.iov_len : take, o = 0;
		if (n > sizeof out / 2)
			n = sizeof out / 2;
		const char *p = v.iov_base, *w = out;
		for (size_t i = 0; i < n && !r->spool_raw; i++) {
			if (r->spool_cr && p[i] != '\n')
				out[o++] = '\r';
			r->spool_cr = p[i] == '\r';
			if (!r->spool_cr)
				out[o++] = p[i];
		}
		if (r->spool_raw)
			w = p, o = n;	/* a literal8: as sent */
		if (r->spool_fd >= 0 && !r->spool_err && write_all(r->spool_fd, w, o) < 0)
			r->spool_err = true;
		evbuffer_drain(in, n);
		take -= n;
	}
}

static void spool_end(struct cmdreader *r)
{
	if (r->spool_cr && r->spool_fd >= 0 && !r->spool_err && write_all(r->spool_fd, "\r", 1) < 0)
		r->spool_err = true;
	r->spool_cr = false;
}

/* The tag of the command being collected, for error replies. */
static void current_tag(struct cmdreader *r, const char *line, char *tag, size_t taglen)
{
	char head[64];
	size_t n = evbuffer_copyout(r->cmd, head, sizeof head - 1);
	const char *src = n ? head : line;
	if (n)
		head[n] = '\0';
	size_t k = 0;
	while (src[k] && src[k] != ' ' && src[k] != '\r' && src[k] != '\n' && k < taglen - 1 && k < 63)
		k++;
	memcpy(tag, src, k);
	tag[k] = '\0';
	if (!k)
		strlcpy_t(tag, "*", taglen);
}

/* Is this command an APPEND (its literal may be a whole message)? */
static bool is_append(struct cmdreader *r, const char *line)
{
	char head[64];
	size_t n = evbuffer_copyout(r->cmd, head, sizeof head - 1);
	head[n] = '\0';
	const char *src = n ? head : line;
	const char *sp = strchr(src, ' ');
	return sp && !strncasecmp(sp + 1, "APPEND ", 7);
}

/* Is the command being collected (or, before its first line, the one that
 * begins in the input) an ID? Its lines and literals may be longer. */
static bool is_id(struct cmdreader *r, struct evbuffer *in)
{
	char head[72];
	size_t n = evbuffer_copyout(r->cmd, head, sizeof head - 1);
	if (!n)
		n = evbuffer_copyout(in, head, sizeof head - 1);
	head[n] = '\0';
	const char *sp = strchr(head, ' ');
	return sp && !strncasecmp(sp + 1, "ID", 2) && strchr(" \r\n", sp[3]) && sp[3];
}

/* "{123}" or "{123+}" at the end of line: returns true and sets n/plus. */
static bool literal_announce(const char *line, size_t len, uint64_t *n, bool *plus)
{
	if (len < 3 || line[len - 1] != '}')
		return false;
	size_t i = len - 2;
	*plus = line[i] == '+';
	if (*plus)
		i--;
	size_t digits_end = i + 1;
	while (i > 0 && isdigit((unsigned char)line[i]))
		i--;
	if (line[i] != '{' || i + 1 == digits_end || digits_end - i - 1 > 18)
		return false;
	*n = strtoull(line + i + 1, NULL, 10);
	return true;
}

static enum cr_status cr_step(struct cmdreader *r, struct evbuffer *in, char *tag, size_t taglen);

enum cr_status cr_feed(struct cmdreader *r, struct evbuffer *in, char *tag, size_t taglen)
{
	enum cr_status st = cr_step(r, in, r->tag, sizeof r->tag);
	strlcpy_t(tag, r->tag[0] ? r->tag : "*", taglen);
	return st;
}

static enum cr_status cr_step(struct cmdreader *r, struct evbuffer *in, char *tag, size_t taglen)
{
	for (;;) {
		if (r->skipping) {
			if (!line_skip(in))
				return CR_MORE;
			r->skipping = false;
			cr_reset(r);
			return CR_TOOLONG;
		}
		if (r->deciding)
			cr_inline(r);	/* the session made no choice: as any literal */
		if (r->in_literal) {
			size_t avail = evbuffer_get_length(in);
			if (!avail)
				return CR_MORE;
			size_t take = avail < r->literal_left ? avail : r->literal_left;
			if (r->spooling)
				spool_take(r, in, take);
			else
				evbuffer_remove_buffer(in, r->cmd, take);
			r->literal_left -= take;
			if (r->literal_left)
				return CR_MORE;
			r->in_literal = false;
			if (r->spooling)
				spool_end(r);
			continue;
		}
		/* RFC 2971 lets an ID carry 30 pairs of up to 30 + 1024 octets */
		bool id = is_id(r, in);
		size_t line_max = id && r->line_max < CR_ID_MAX ? CR_ID_MAX : r->line_max;
		size_t cmd_max = id && r->cmd_max < CR_ID_MAX ? CR_ID_MAX : r->cmd_max;
		struct line l;
		enum line_status st = line_read(in, line_max, &l);
		if (st == LINE_MORE)
			return CR_MORE;
		if (st == LINE_TOOLONG) {
			current_tag(r, "", tag, taglen);
			if (!evbuffer_get_length(r->cmd)) {
				char head[64];
				size_t n = evbuffer_copyout(in, head, sizeof head - 1);
				head[n] = '\0';
				current_tag(r, head, tag, taglen);
			}
			r->skipping = true;
			continue;
		}
		size_t have = evbuffer_get_length(r->cmd) - r->literal_total;
		if (have + l.len > cmd_max) {
			current_tag(r, l.text, tag, taglen);
			line_free(&l);
			cr_reset(r);
			return CR_TOOLONG;
		}
		uint64_t n;
		bool plus;
		bool lit = literal_announce(l.text, l.len, &n, &plus);
		current_tag(r, l.text, tag, taglen);
		bool append = is_append(r, l.text);
		evbuffer_add(r->cmd, l.text, l.len);
		evbuffer_add(r->cmd, "\r\n", 2);
		line_free(&l);
		if (!lit)
			return CR_DONE;
		uint64_t limit = append ? r->append_max : cmd_max;
		if (n > limit || r->literal_total + n > (append ? r->append_max + cmd_max : cmd_max)) {
			cr_reset(r);
			return plus ? CR_FATAL : CR_LITERAL_TOOBIG;
		}
		r->literal_left = (size_t)n;
		r->in_literal = n > 0;
		if (append && n > 0) {
			r->deciding = true;
			r->lit_sync = !plus;
			return CR_APPEND_LITERAL;
		}
		r->literal_total += n;
		if (!plus)
			return CR_CONTINUE;
	}
}

/* ---- tokeniser ---- */

void ip_init(struct ip *ip, const char *buf, size_t len)
{
	memset(ip, 0, sizeof *ip);
	ip->p = buf;
	ip->end = buf + len;
	/* the final CRLF is not part of any token */
	if (len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n')
		ip->end -= 2;
}

void ip_fail(struct ip *ip, const char *why)
{
	if (!ip->bad)
		ip->why = why;
	ip->bad = true;
}

bool ip_eol(struct ip *ip)
{
	return !ip->bad && ip->p == ip->end;
}

bool ip_peek(struct ip *ip, char c)
{
	return !ip->bad && ip->p < ip->end && *ip->p == c;
}

bool ip_char(struct ip *ip, char c)
{
	if (!ip_peek(ip, c))
		return false;
	ip->p++;
	return true;
}

bool ip_sp(struct ip *ip)
{
	if (ip_char(ip, ' '))
		return true;
	ip_fail(ip, "expected a space");
	return false;
}

static bool atom_char(unsigned char c, bool bracket_ok, bool wild_ok)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	if (c == ']')
		return bracket_ok;
	if (c == '%' || c == '*')
		return wild_ok;
	return !strchr("(){\"\\", c);
}

static char *take_chars(struct ip *ip, bool bracket_ok, bool wild_ok, const char *what)
{
	if (ip->bad)
		return NULL;
	const char *s = ip->p;
	while (ip->p < ip->end && atom_char((unsigned char)*ip->p, bracket_ok, wild_ok))
		ip->p++;
	if (ip->p == s) {
		ip_fail(ip, what);
		return NULL;
	}
	return xstrndup(s, (size_t)(ip->p - s));
}

char *ip_atom(struct ip *ip)
{
	return take_chars(ip, false, false, "expected an atom");
}

char *ip_tag(struct ip *ip)
{
	char *t = take_chars(ip, true, false, "expected a tag");
	if (t && strchr(t, '+')) {
		free(t);
		ip_fail(ip, "bad tag");
		return NULL;
	}
	return t;
}

static char *quoted(struct ip *ip, size_t *len)
{
	ip->p++;	/* opening quote */
	char *out = xmalloc((size_t)(ip->end - ip->p) + 1), *o = out;
	while (ip->p < ip->end && *ip->p != '"') {
		char c = *ip->p++;
		if (c == '\\') {
			if (ip->p >= ip->end || (*ip->p != '"' && *ip->p != '\\'))
				break;
			c = *ip->p++;
		} else if (c == '\r' || c == '\n') {
			break;
		}
		*o++ = c;
	}
	if (ip->p >= ip->end || *ip->p != '"') {
		free(out);
		ip_fail(ip, "bad quoted string");
		return NULL;
	}
	ip->p++;
	*o = '\0';
	if (len)
		*len = (size_t)(o - out);
	return out;
}

static char *literal(struct ip *ip, size_t *len)
{
	const char *s = ip->p + 1;
	char *e;
	unsigned long long n = strtoull(s, &e, 10);
	if (e == s)
		goto bad;
	if (*e == '+')
		e++;
	if (e + 3 > ip->end || e[0] != '}' || e[1] != '\r' || e[2] != '\n')
		goto bad;
	e += 3;
	if ((unsigned long long)(ip->end - e) < n)
		goto bad;
	char *out = xmalloc((size_t)n + 1);
	memcpy(out, e, (size_t)n);
	out[n] = '\0';
	ip->p = e + n;
	if (len)
		*len = (size_t)n;
	return out;
bad:
	ip_fail(ip, "bad literal");
	return NULL;
}

char *ip_string(struct ip *ip, size_t *len)
{
	/* literal8 (RFC 3516 "~{n}"): APPEND may send binary content */
	if (ip_peek(ip, '~') && ip->p + 1 < ip->end && ip->p[1] == '{') {
		ip->p++;
		return literal(ip, len);
	}
	if (ip_peek(ip, '"'))
		return quoted(ip, len);
	if (ip_peek(ip, '{'))
		return literal(ip, len);
	ip_fail(ip, "expected a string");
	return NULL;
}

char *ip_astring(struct ip *ip, size_t *len)
{
	if (ip_peek(ip, '"') || ip_peek(ip, '{'))
		return ip_string(ip, len);
	char *a = take_chars(ip, true, false, "expected an astring");
	if (a && len)
		*len = strlen(a);
	return a;
}

char *ip_nstring(struct ip *ip, size_t *len, bool *nil)
{
	*nil = false;
	if (ip->end - ip->p >= 3 && !strncasecmp(ip->p, "NIL", 3) &&
	    (ip->end - ip->p == 3 || !atom_char((unsigned char)ip->p[3], false, false))) {
		ip->p += 3;
		*nil = true;
		return NULL;
	}
	return ip_string(ip, len);
}

char *ip_listmbox(struct ip *ip)
{
	if (ip_peek(ip, '"') || ip_peek(ip, '{'))
		return ip_string(ip, NULL);
	return take_chars(ip, true, true, "expected a mailbox pattern");
}

char *ip_until(struct ip *ip, const char *stops)
{
	if (ip->bad)
		return NULL;
	const char *s = ip->p;
	while (ip->p < ip->end && !strchr(stops, *ip->p) && *ip->p != '\r' && *ip->p != '\n')
		ip->p++;
	return xstrndup(s, (size_t)(ip->p - s));
}

bool ip_literal_header(struct ip *ip, uint64_t *n)
{
	if (ip_peek(ip, '~'))
		ip->p++;
	if (!ip_char(ip, '{') || !ip_number(ip, UINT64_MAX / 2, n)) {
		ip_fail(ip, "bad literal");
		return false;
	}
	ip_char(ip, '+');
	if (ip->end - ip->p < 3 || memcmp(ip->p, "}\r\n", 3)) {
		ip_fail(ip, "bad literal");
		return false;
	}
	ip->p += 3;
	return true;
}

bool ip_number(struct ip *ip, uint64_t max, uint64_t *out)
{
	if (ip->bad)
		return false;
	const char *s = ip->p;
	uint64_t v = 0;
	while (ip->p < ip->end && isdigit((unsigned char)*ip->p)) {
		v = v * 10 + (uint64_t)(*ip->p - '0');
		if (v > max) {
			ip_fail(ip, "number out of range");
			return false;
		}
		ip->p++;
	}
	if (ip->p == s) {
		ip_fail(ip, "expected a number");
		return false;
	}
	*out = v;
	return true;
}

/* ---- sequence sets ---- */

static bool seq_num(const char **pp, uint64_t *v)
{
	const char *p = *pp;
	if (*p == '*') {
		*v = SEQ_STAR;
		*pp = p + 1;
		return true;
	}
	if (!isdigit((unsigned char)*p) || *p == '0')
		return false;
	uint64_t n = 0;
	while (isdigit((unsigned char)*p)) {
		n = n * 10 + (uint64_t)(*p++ - '0');
		if (n > UINT32_MAX)
			return false;
	}
	*v = n;
	*pp = p;
	return true;
}

bool seqset_parse(const char *s, struct seqset *out)
{
	memset(out, 0, sizeof *out);
	if (!strcmp(s, "$")) {	/* only ever alone (RFC 5182 4) */
		out->last = true;
		return true;
	}
	const char *p = s;
	for (size_t count = 0; count < 10000; count++) {
		struct seqrange r;
		if (!seq_num(&p, &r.lo))
			break;
		r.hi = r.lo;
		if (*p == ':' && (p++, !seq_num(&p, &r.hi)))
			break;
		out->r = xrealloc(out->r, (out->n + 1) * sizeof *out->r);
		out->r[out->n++] = r;
		if (*p == '\0')
			return true;
		if (*p++ != ',')
			break;
	}
	seqset_free(out);
	return false;
}

void seqset_free(struct seqset *s)
{
	free(s->r);
	s->r = NULL;
	s->n = 0;
}

bool seqset_has(const struct seqset *s, uint32_t v, uint32_t star)
{
	for (size_t i = 0; i < s->n; i++) {
		uint64_t lo = s->r[i].lo == SEQ_STAR ? star : s->r[i].lo;
		uint64_t hi = s->r[i].hi == SEQ_STAR ? star : s->r[i].hi;
		if (lo > hi) {
			uint64_t t = lo;
			lo = hi;
			hi = t;
		}
		if (v >= lo && v <= hi)
			return true;
	}
	return false;
}

bool seqset_within(const struct seqset *s, uint32_t max)
{
	for (size_t i = 0; i < s->n; i++)
		if ((s->r[i].lo != SEQ_STAR && s->r[i].lo > max) ||
		    (s->r[i].hi != SEQ_STAR && s->r[i].hi > max))
			return false;
	return true;
}
