/* mime_encode.c — writing RFC 2047 encoded words: the one writer for header
 * text we compose (httpd's Email/set create, deliverd's vacation replies). */
#include "common/mime.h"
#include "common/util.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>

/* 45 octets are 60 base64 characters: with "=?UTF-8?B?" and "?=" a word is
 * 72 characters, within RFC 2047's 75. */
#define WORD_OCTETS 45

char *mime_encode_words(const char *s)
{
	/* a word holds at least WORD_OCTETS - 3 octets (below) */
	size_t n = strlen(s), words = n / (WORD_OCTETS - 3) + 2;
	char *out = xmalloc(words * 80 + 1), *o = out;
	*o = '\0';
	for (bool first = true; n > 0; first = false) {
		size_t take = n > WORD_OCTETS ? WORD_OCTETS : n;
		/* whole UTF-8 characters in each word (of 4 octets at most: in
		 * text that is no UTF-8 the word is cut anywhere) */
		for (int k = 0; k < 3 && take < n && ((unsigned char)s[take] & 0xc0) == 0x80; k++)
			take--;
		unsigned char enc[64];
		int len = EVP_EncodeBlock(enc, (const unsigned char *)s, (int)take);
		if (!first)
			o = stpcpy(o, "\r\n ");
		o = stpcpy(o, "=?UTF-8?B?");
		memcpy(o, enc, (size_t)len);
		o = stpcpy(o + len, "?=");
		s += take;
		n -= take;
	}
	return out;
}

char *mime_header_text(const char *s)
{
	bool plain = !strstr(s, "=?");
	for (const char *p = s; plain && *p; p++)
		plain = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f;
	return plain ? xstrdup(s) : mime_encode_words(s);
}
