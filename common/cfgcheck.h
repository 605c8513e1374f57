/* cfgcheck.h — value checks shared by several config schemas (cfg_check_fn):
 * the same parsers the programs use when they read these values. */
#ifndef TERN_CFGCHECK_H
#define TERN_CFGCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* A domain or host name (letters, digits, hyphens; labels of 1-63). */
bool cfg_check_domain(const char *text, char *why, size_t whylen);
/* An email address as the user database normalises it (empty allowed). */
bool cfg_check_address(const char *text, char *why, size_t whylen);
/* An IPv4 or IPv6 address literal. */
bool cfg_check_ip(const char *text, char *why, size_t whylen);
/* "domain=word": a domain name, and a word from choices (comma-separated), or
 * with choices NULL any word of letters, digits, '-', '_' and '.'. */
bool cfg_check_domain_word(const char *item, const char *choices, char *why, size_t whylen);

#endif
