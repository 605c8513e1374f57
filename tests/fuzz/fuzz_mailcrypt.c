/* fuzz_mailcrypt — header protection (common/mailcrypt_hp.c) on any bytes: a
 * message header comes from the network. Checks what sealing relies on:
 * every field outside is one of the clear ones (or the placeholder), the
 * inner header has no bare LF (canonical form) and ends with a line end, and
 * the body starts within the input. Line ends outside are those of the
 * stored form, made as local delivery makes them (a CR before CRLF stays). */
#include "common/mailcrypt_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const allowed[] = {
	"Received:", "Date:", "From:", "To:", "Cc:", "Message-ID:", "In-Reply-To:", "References:",
	"Subject:",
};

static void check_outer(const char *o, size_t n)
{
	for (size_t i = 0; i < n;) {
		const char *eol = memchr(o + i, '\n', n - i);
		size_t len = eol ? (size_t)(eol - (o + i)) : n - i;
		if (len && o[i] != ' ' && o[i] != '\t') {
			int ok = 0;
			for (size_t k = 0; k < sizeof allowed / sizeof *allowed && !ok; k++)
				ok = len >= strlen(allowed[k]) && !strncasecmp(o + i, allowed[k], strlen(allowed[k]));
			if (!ok)
				abort();	/* a field outside that must stay inside */
		}
		i += len + 1;
	}
}

static void check_inner(const char *in, size_t n)
{
	if (n == 0)
		return;		/* no protection: the message goes inside as it is */
	if (n < 2 || memcmp(in + n - 2, "\r\n", 2))
		abort();
	for (size_t i = 0; i < n; i++)
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool whole = data[0] & 1, keep = data[0] & 2;
	const char *buf = (const char *)data + 1;
	size_t len = size - 1;
	struct mc_header h;
	mc_header_build(buf, len, whole, keep, &h);
	if (h.body_off > len)
		abort();
	check_outer(h.outer, h.outerlen);
	check_inner(h.inner, h.innerlen);
	mc_header_free(&h);
	return 0;
}
