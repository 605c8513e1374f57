/* mailindex_fields.c — which header fields the index caches for SEARCH
 * (mailindex.h, mi_fields_*): apart from the index itself, so the search
 * parser (and its fuzzer) can ask without linking Berkeley DB. */
#include "common/mailindex.h"
#include "common/mime.h"
#include "common/util.h"

#include <strings.h>

/* those of the ENVELOPE, which the streaming parser keeps however long the
 * header (mime.h, MIME_MAX_HEADER); the record's encoder (mailindex.c,
 * fields_cb) takes them from the ENVELOPE's own walk, so a change here is
 * a change there */
bool mi_field_cached(const char *name)
{
	return mime_envelope_field(name);
}
