/* placeholder replaced below */
#include "imapd/session.h"
void cmd_search(struct session *s, struct ip *ip, bool uid) { s_no(s, "not yet"); }
