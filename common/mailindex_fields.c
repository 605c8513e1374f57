/* mailindex_fields.c — which header fields the index caches for SEARCH
 * (mailindex.h, mi_fields_*): apart from the index itself, so the search
 * parser (and its fuzzer) can ask without linking Berkeley DB. */
#include "common/mailindex.h"
#include "common/util.h"

#include <strings.h>

static const char *const cached_fields[] = {
	"from", "to", "cc", "bcc", "subject", "date", "sender", "reply-to", "message-id", "in-reply-to",
};

bool mi_field_cached(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(cached_fields); i++)
		if (!strcasecmp(name, cached_fields[i]))
			return true;
	return false;
}
