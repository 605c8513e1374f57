/* cmd_notify.c — the NOTIFY command (RFC 5465): NOTIFY NONE and NOTIFY SET,
 * parsed by notify_parse.c and run by notify.c. Unsupported events get NO
 * [BADEVENT] naming those we support, too many names or groups NO
 * [NOTIFICATIONOVERFLOW]. */
#include "imapd/commands.h"
#include "imapd/fetch_parse.h"
#include "imapd/notify.h"

void cmd_notify(struct session *s, struct ip *ip, bool uid)
{
	enum notify_parsed res;
	const char *err, *why;
	char names[256];
	struct notify_spec *sp = notify_parse(ip, fetch_atts_valid, &res, &err);
	switch (res) {
	case NP_NONE:
		notify_stop(s);
		s_ok(s, "NOTIFY completed");
		break;
	case NP_SET:
		if ((why = notify_start(s, sp)))
			s_no(s, "%s", why);	/* sp freed there */
		else
			s_ok(s, "NOTIFY completed");
		break;
	case NP_OVERFLOW:
		s_no(s, "[NOTIFICATIONOVERFLOW] Too many mailboxes or event groups");
		break;
	case NP_BADEVENT:
		s_no(s, "[BADEVENT (%s)] Unsupported NOTIFY events",
		     notify_event_names(NE_SUPPORTED, names, sizeof names));
		break;
	case NP_BAD:
		s_bad(s, "%s", err ? err : "Syntax: NOTIFY NONE | NOTIFY SET [STATUS] (filter events) ...");
		break;
	}
}
