/* testdns.h — a real DNS server for unit tests: dnsmasq on a loopback port,
 * serving exactly the records given (anything else NXDOMAIN when the caller
 * adds "--address=/#/"), with common/dns pointed at it. */
#ifndef TERN_TESTDNS_H
#define TERN_TESTDNS_H

#include <sys/types.h>

/* records: dnsmasq record options, NULL-terminated. Waits until a TXT query for
 * probe answers (or 5 s). Returns the dnsmasq pid; exits the test on failure. */
pid_t testdns_start(const char *const *records, const char *probe);
void testdns_stop(pid_t pid);
/* "--txt-record=NAME,part,part" with value split into strings of <= 250 bytes. */
char *testdns_txt_arg(const char *name, const char *value);
/* The server's "127.0.0.1:PORT". */
const char *testdns_server(void);

#endif
