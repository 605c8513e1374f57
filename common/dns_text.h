/* dns_text.h — the records of one name and type as zone-file presentation
 * text (the part after "IN TYPE"), for tools that compare what DNS serves with
 * what it should serve (`mailctl dns --check`). Names are lower-case with a
 * trailing dot; TXT strings are joined (RFC 7208 3.3) and shown unquoted;
 * TLSA data in lower-case hex. Queries go through common/dns (dns_server). */
#ifndef TERN_DNS_TEXT_H
#define TERN_DNS_TEXT_H

#include "common/dns.h"

#include <stddef.h>

#define DNS_T_CNAME	5
#define DNS_T_MX	15
#define DNS_T_TXT	16
#define DNS_T_SRV	33
#define DNS_T_TLSA	52

/* Records of type at name (CNAMEs on the way are followed by the server and
 * skipped here). *out malloc'd strings, freed with dns_txt_free. A record that
 * cannot be shown (malformed) makes the whole answer DNS_ERROR. */
enum dns_status dns_records_text(const char *name, int type, char ***out, size_t *n);

#endif
