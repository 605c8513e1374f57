/* fetch_parse.c — FETCH's attribute grammar (see fetch_parse.h). */
#include "imapd/fetch_parse.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void add(struct freq *r, enum fkind k, const char *name, const char *section, bool peek)
{
	if (r->n >= FETCH_MAX_ITEMS)
		return;
	struct fitem *f = &r->it[r->n++];
	memset(f, 0, sizeof *f);
	f->kind = k;
	f->name = xstrdup(name);
	f->section = section ? xstrdup(section) : NULL;
	f->peek = peek;
	if (k == F_SECTION || k == F_BINARY || k == F_BINSIZE) {
		r->need_body = true;
		r->sets_seen |= !peek;
	}
	r->has_flags |= k == F_FLAGS;
	r->has_uid |= k == F_UID;
	r->has_modseq |= k == F_MODSEQ;
}

void freq_free(struct freq *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->it[i].name);
		free(r->it[i].section);
	}
}

/* BODY[section]<partial> after "BODY" or "BODY.PEEK" (BINARY likewise) */
static bool parse_section(struct ip *ip, struct freq *r, bool peek, enum fkind kind)
{
	char *spec = ip_until(ip, "]");
	if (!spec || !ip_char(ip, ']')) {
		free(spec);
		return false;
	}
	if (kind != F_SECTION && strspn(spec, "0123456789.") != strlen(spec)) {
		free(spec);
		return false;	/* BINARY takes part numbers only */
	}
	const char *label = kind == F_SECTION ? "BODY" : kind == F_BINARY ? "BINARY" : "BINARY.SIZE";
	char *name = xasprintf("%s[%s]", label, spec);
	add(r, kind, name, spec, peek);
	free(name);
	free(spec);
	if (kind == F_BINSIZE)
		return true;	/* no partial for sizes */
	if (ip_char(ip, '<')) {
		uint64_t a, b;
		if (!ip_number(ip, UINT32_MAX, &a) || !ip_char(ip, '.') || !ip_number(ip, UINT32_MAX, &b) ||
		    b == 0 || !ip_char(ip, '>'))
			return false;
		struct fitem *f = &r->it[r->n - 1];
		f->partial = true;
		f->start = a;
		f->len = b;
		char *nn = xasprintf("%s<%llu>", f->name, (unsigned long long)a);
		free(f->name);
		f->name = nn;
	}
	return true;
}

/* PREVIEW [SP "(" preview-mod *(SP preview-mod) ")"] (RFC 8970), LAZY
 * the only modifier. " (" not followed by LAZY is left alone: at the end
 * of a command it opens FETCH's own modifiers. */
static bool parse_preview(struct ip *ip, struct freq *r)
{
	add(r, F_PREVIEW, "PREVIEW", NULL, true);
	const char *at = ip->p;
	if (!ip_char(ip, ' ') || !ip_char(ip, '('))
		goto none;
	for (int i = 0; i < PREVIEW_MAX_MODS; i++) {
		if (i && ip_char(ip, ')'))
			return true;
		char *m = i && !ip_sp(ip) ? NULL : ip_atom(ip);
		bool lazy = m && !strcasecmp(m, "LAZY");
		free(m);
		if (!lazy && i == 0)
			goto none;
		if (!lazy)
			return false;
		r->it[r->n - 1].lazy = true;
	}
	return false;
none:
	ip->p = at;
	ip->bad = false;
	return true;
}

static bool parse_att(struct ip *ip, struct freq *r)
{
	char *a = ip_until(ip, " ()[");
	bool ok = true;
	if (!a || !*a)
		ok = false;
	else if (!strcasecmp(a, "ALL") || !strcasecmp(a, "FAST") || !strcasecmp(a, "FULL")) {
		add(r, F_FLAGS, "FLAGS", NULL, true);
		add(r, F_INTERNALDATE, "INTERNALDATE", NULL, true);
		add(r, F_SIZE, "RFC822.SIZE", NULL, true);
		if (strcasecmp(a, "FAST"))
			add(r, F_ENVELOPE, "ENVELOPE", NULL, true);
		if (!strcasecmp(a, "FULL"))
			add(r, F_BODY, "BODY", NULL, true);
	} else if (!strcasecmp(a, "ENVELOPE"))
		add(r, F_ENVELOPE, "ENVELOPE", NULL, true);
	else if (!strcasecmp(a, "FLAGS"))
		add(r, F_FLAGS, "FLAGS", NULL, true);
	else if (!strcasecmp(a, "INTERNALDATE"))
		add(r, F_INTERNALDATE, "INTERNALDATE", NULL, true);
	else if (!strcasecmp(a, "RFC822.SIZE"))
		add(r, F_SIZE, "RFC822.SIZE", NULL, true);
	else if (!strcasecmp(a, "UID"))
		add(r, F_UID, "UID", NULL, true);
	else if (!strcasecmp(a, "MODSEQ"))
		add(r, F_MODSEQ, "MODSEQ", NULL, true);
	else if (!strcasecmp(a, "EMAILID"))
		add(r, F_EMAILID, "EMAILID", NULL, true);
	else if (!strcasecmp(a, "THREADID"))
		add(r, F_THREADID, "THREADID", NULL, true);
	else if (!strcasecmp(a, "SAVEDATE"))
		add(r, F_SAVEDATE, "SAVEDATE", NULL, true);
	else if (!strcasecmp(a, "PREVIEW"))
		ok = parse_preview(ip, r);
	else if (!strcasecmp(a, "BODYSTRUCTURE"))
		add(r, F_BODYSTRUCTURE, "BODYSTRUCTURE", NULL, true);
	else if (!strcasecmp(a, "RFC822"))
		add(r, F_SECTION, "RFC822", "", false);
	else if (!strcasecmp(a, "RFC822.HEADER"))
		add(r, F_SECTION, "RFC822.HEADER", "HEADER", true);
	else if (!strcasecmp(a, "RFC822.TEXT"))
		add(r, F_SECTION, "RFC822.TEXT", "TEXT", false);
	else if (!strcasecmp(a, "BODY") || !strcasecmp(a, "BODY.PEEK")) {
		bool peek = strlen(a) > 4;
		if (ip_char(ip, '['))
			ok = parse_section(ip, r, peek, F_SECTION);
		else if (!peek)
			add(r, F_BODY, "BODY", NULL, true);
		else
			ok = false;
	} else if (!strcasecmp(a, "BINARY") || !strcasecmp(a, "BINARY.PEEK") ||
		   !strcasecmp(a, "BINARY.SIZE")) {
		enum fkind k = !strcasecmp(a, "BINARY.SIZE") ? F_BINSIZE : F_BINARY;
		ok = ip_char(ip, '[') && parse_section(ip, r, k == F_BINSIZE || strlen(a) > 6, k);
	} else
		ok = false;
	free(a);
	return ok;
}

bool fetch_parse_atts(struct ip *ip, struct freq *r)
{
	if (!ip_char(ip, '('))
		return parse_att(ip, r);
	for (int i = 0; i < FETCH_MAX_ITEMS; i++) {
		if (i && ip_char(ip, ')'))
			return true;
		if (i && !ip_sp(ip))
			return false;
		if (!parse_att(ip, r))
			return false;
	}
	return false;
}

/* " (CHANGEDSINCE n [VANISHED])" (RFC 7162), modifiers in any order */
bool fetch_parse_modifiers(struct ip *ip, struct freq *r)
{
	if (!ip_char(ip, ' '))
		return true;
	if (!ip_char(ip, '('))
		return false;
	for (int i = 0; i < 4; i++) {
		if (i && ip_char(ip, ')'))
			return r->changedsince || !r->vanished;
		if (i && !ip_sp(ip))
			return false;
		char *a = ip_atom(ip);
		bool ok = a != NULL;
		if (ok && !strcasecmp(a, "CHANGEDSINCE"))
			ok = r->changedsince = ip_sp(ip) && ip_number(ip, UINT64_MAX / 2, &r->since);
		else if (ok && !strcasecmp(a, "VANISHED"))
			r->vanished = true;
		else
			ok = false;
		free(a);
		if (!ok)
			return false;
	}
	return false;
}


bool fetch_atts_valid(const char *atts)
{
	struct freq r = { 0 };
	struct ip ip;
	ip_init(&ip, atts, strlen(atts));
	bool ok = fetch_parse_atts(&ip, &r) && ip.p == ip.end;
	freq_free(&r);
	return ok;
}
