/* notify_parse.c — the grammar of NOTIFY (RFC 5465 8):
 *
 *   notify = "NOTIFY" SP ("NONE" / "SET" [SP "STATUS"] 1*(SP event-group))
 *   event-group = "(" filter-mailboxes SP events ")"
 *   filter-mailboxes = "selected" / "selected-delayed" / "inboxes" / "personal" /
 *                      "subscribed" / ("subtree" / "mailboxes") SP one-or-more-mailbox
 *   events = ( "(" event *(SP event) ")" ) / "NONE"
 *   event = "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"] / "MessageExpunge" / ...
 *
 * into a struct notify_spec; no session needed (fuzz_imap runs it). Every
 * list is bounded (notify.h). */
#include "imapd/commands.h"
#include "imapd/notify.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const event_names[] = {
	"MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange", "MailboxName",
	"SubscriptionChange", "MailboxMetadataChange", "ServerMetadataChange",
};

const char *notify_event_names(unsigned mask, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(event_names); i++)
		if (mask & (1u << i))
			o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? " " : "",
					      event_names[i]);
	return buf;
}

void notify_spec_free(struct notify_spec *sp)
{
	if (!sp)
		return;
	for (size_t g = 0; g < sp->ngroups; g++) {
		for (size_t i = 0; i < sp->groups[g].nnames; i++)
			free(sp->groups[g].names[i]);
		free(sp->groups[g].names);
	}
	free(sp->groups);
	free(sp->fetch_att);
	free(sp);
}

struct nparse {
	struct ip *ip;
	bool (*fetch_ok)(const char *atts);
	struct notify_spec *sp;
	size_t names;		/* mailbox names so far */
	unsigned used;		/* every event named */
	const char *err;	/* a BAD with this text */
	bool overflow;
	bool selected;		/* a selected filter was given */
};

/* MessageNew's "(fetch-att ...)": the raw text, checked by FETCH's parser. */
static bool fetch_att_list(struct nparse *p)
{
	const char *start = p->ip->p;
	int depth = 0;
	for (const char *q = start; q < p->ip->end; q++) {
		if (*q == '(')
			depth++;
		else if (*q == ')' && --depth == 0) {
			size_t n = (size_t)(q + 1 - start);
			if (n > NOTIFY_MAX_FETCH_ATT) {
				p->err = "MessageNew fetch attributes too long";
				return false;
			}
			char *att = xstrndup(start, n);
			if (!p->fetch_ok(att)) {
				free(att);
				p->err = "Invalid MessageNew fetch attributes";
				return false;
			}
			free(p->sp->fetch_att);
			p->sp->fetch_att = att;
			p->ip->p = q + 1;
			return true;
		} else if (*q == '\r' || *q == '\n' || *q == '{') {
			break;	/* no literals inside: section names are atoms */
		}
	}
	p->err = "Unterminated MessageNew fetch attributes";
	return false;
}

/* "(" event *(SP event) ")" or NONE (mask 0). */
static bool events(struct nparse *p, bool selected, unsigned *mask)
{
	*mask = 0;
	if (!ip_char(p->ip, '(')) {
		char *a = ip_atom(p->ip);
		bool none = a && !strcasecmp(a, "NONE");
		free(a);
		return none;
	}
	for (size_t i = 0; i < ARRAY_LEN(event_names) + 1; i++) {
		if (i && ip_char(p->ip, ')'))
			return *mask != 0;
		if (i && !ip_sp(p->ip))
			return false;
		char *a = ip_atom(p->ip);
		size_t k = 0;
		while (a && k < ARRAY_LEN(event_names) && strcasecmp(a, event_names[k]))
			k++;
		free(a);
		if (k == ARRAY_LEN(event_names))
			return false;
		*mask |= 1u << k;
		if (k == 0 && ip_peek(p->ip, ' ') && p->ip->p + 1 < p->ip->end && p->ip->p[1] == '(') {
			if (!selected) {
				p->err = "MessageNew fetch attributes only for the selected mailbox";
				return false;
			}
			ip_sp(p->ip);
			if (!fetch_att_list(p))
				return false;
		}
	}
	return false;
}

/* mailbox / "(" mailbox *(SP mailbox) ")" */
static bool mailboxes(struct nparse *p, struct notify_group *g)
{
	bool list = ip_char(p->ip, '(');
	for (int i = 0;; i++) {
		if (list && i && ip_char(p->ip, ')'))
			return true;
		if (list && i && !ip_sp(p->ip))
			return false;
		char *name = arg_mailbox(p->ip);
		if (!name)
			return false;
		if (++p->names > NOTIFY_MAX_NAMES) {
			free(name);
			p->overflow = true;
			return false;
		}
		g->names = xrealloc(g->names, (g->nnames + 1) * sizeof *g->names);
		g->names[g->nnames++] = name;
		if (!list)
			return true;
	}
}

static bool group(struct nparse *p)
{
	struct ip *ip = p->ip;
	struct notify_spec *sp = p->sp;
	char *f = ip_char(ip, '(') ? ip_atom(ip) : NULL;
	if (!f || !ip_sp(ip)) {
		free(f);
		return false;
	}
	bool sel = !strcasecmp(f, "selected"), delayed = !strcasecmp(f, "selected-delayed");
	static const struct { const char *name; enum notify_filter f; } filters[] = {
		{ "inboxes", NF_INBOXES }, { "personal", NF_PERSONAL }, { "subscribed", NF_SUBSCRIBED },
		{ "subtree", NF_SUBTREE }, { "mailboxes", NF_MAILBOXES },
	};
	size_t k = 0;
	while (k < ARRAY_LEN(filters) && strcasecmp(f, filters[k].name))
		k++;
	free(f);
	unsigned mask;
	if (sel || delayed) {
		if (p->selected) {
			p->err = "Duplicate selected filter";
			return false;
		}
		p->selected = true;
		if (!events(p, true, &mask) || !ip_char(ip, ')'))
			return false;
		/* RFC 5465 5.1-5.3: the message count needs both, flags need them */
		if ((mask & (NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE)) &&
		    (mask & (NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE)) != (NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE)) {
			p->err = "MessageNew and MessageExpunge must be together";
			return false;
		}
		if ((mask & (NE_FLAG_CHANGE | NE_ANNOTATION_CHANGE)) && !(mask & NE_MESSAGE_NEW)) {
			p->err = "FlagChange needs MessageNew and MessageExpunge";
			return false;
		}
		p->used |= mask;
		sp->sel_set = mask != 0;
		sp->sel_immediate = sel;
		sp->sel_events = mask;
		return true;
	}
	if (k == ARRAY_LEN(filters) || sp->ngroups == NOTIFY_MAX_GROUPS) {
		p->overflow = k < ARRAY_LEN(filters);
		return false;
	}
	struct notify_group g = { .filter = filters[k].f };
	bool ok = (g.filter != NF_SUBTREE && g.filter != NF_MAILBOXES) ||
		  (mailboxes(p, &g) && ip_sp(ip));
	ok = ok && events(p, false, &mask) && ip_char(ip, ')');
	if (ok && mask) {
		g.events = mask;
		p->used |= mask;
		sp->groups = xrealloc(sp->groups, (sp->ngroups + 1) * sizeof *sp->groups);
		sp->groups[sp->ngroups++] = g;
		return true;
	}
	for (size_t i = 0; i < g.nnames; i++)
		free(g.names[i]);
	free(g.names);
	return ok;	/* NONE: the group asks for nothing */
}

struct notify_spec *notify_parse(struct ip *ip, bool (*fetch_ok)(const char *atts),
				 enum notify_parsed *res, const char **err)
{
	*err = NULL;
	char *a = ip_sp(ip) ? ip_atom(ip) : NULL;
	bool none = a && !strcasecmp(a, "NONE"), set = a && !strcasecmp(a, "SET");
	free(a);
	if (none) {
		*res = ip_eol(ip) ? NP_NONE : NP_BAD;
		return NULL;
	}
	*res = NP_BAD;
	if (!set)
		return NULL;
	struct notify_spec *sp = xcalloc(1, sizeof *sp);
	struct nparse p = { .ip = ip, .fetch_ok = fetch_ok, .sp = sp };
	bool ok = ip_sp(ip);
	if (ok && !ip_peek(ip, '(')) {
		char *w = ip_atom(ip);
		ok = w && !strcasecmp(w, "STATUS") && ip_sp(ip);
		sp->status = ok;
		free(w);
	}
	for (int i = 0; ok && !p.overflow; i++) {
		if (i && ip_eol(ip))
			break;
		ok = (!i || ip_sp(ip)) && group(&p);
	}
	if (p.overflow)
		*res = NP_OVERFLOW;
	else if (!ok)
		*err = p.err;
	else
		*res = p.used & ~NE_SUPPORTED ? NP_BADEVENT : NP_SET;
	if (*res == NP_SET)
		return sp;
	notify_spec_free(sp);
	return NULL;
}
