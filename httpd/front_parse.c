/* front_parse.c — what a client sends before login (see front_parse.h). */
#include "httpd/front_parse.h"
#include "common/util.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

bool front_basic_parse(const char *h, char **user, char **pass)
{
	if (!h || strncasecmp(h, "Basic ", 6))
		return false;
	h += 6;
	while (*h == ' ')
		h++;
	size_t n = strlen(h);
	if (n == 0 || n > BASIC_MAX || n % 4)
		return false;
	unsigned char *raw = xmalloc(n + 1);
	int len = EVP_DecodeBlock(raw, (const unsigned char *)h, (int)n);
	if (len >= 0) {
		/* EVP_DecodeBlock counts padding bytes as data */
		len -= (h[n - 1] == '=') + (n >= 2 && h[n - 2] == '=');
	}
	char *colon = len > 0 ? memchr(raw, ':', (size_t)len) : NULL;
	bool ok = colon && colon > (char *)raw && !memchr(raw, '\0', (size_t)len);
	if (ok) {
		raw[len] = '\0';
		*colon = '\0';
		*user = xstrdup((char *)raw);
		*pass = xstrdup(colon + 1);
	}
	explicit_bzero(raw, n + 1);
	free(raw);
	return ok;
}

bool front_login_parse(const char *body, size_t len, char **user, char **pass)
{
	json_t *o = len <= LOGIN_MAX ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *u = json_string_value(json_object_get(o, "username"));
	const char *p = json_string_value(json_object_get(o, "password"));
	/* a string with "\u0000" in it is not a user name or a password */
	bool ok = u && p && *u && *p &&
		  strlen(u) == json_string_length(json_object_get(o, "username")) &&
		  strlen(p) == json_string_length(json_object_get(o, "password"));
	if (ok) {
		*user = xstrdup(u);
		*pass = xstrdup(p);
	}
	json_decref(o);
	return ok;
}

bool front_cookie_value(const char *h, char *out, size_t idlen)
{
	size_t nl = strlen(COOKIE_NAME);
	while (h && *h) {
		h += strspn(h, " \t;");
		size_t len = strcspn(h, ";");
		if (len == nl + 1 + idlen && !strncmp(h, COOKIE_NAME "=", nl + 1)) {
			memcpy(out, h + nl + 1, idlen);
			out[idlen] = '\0';
			return true;
		}
		h += len;
	}
	return false;
}

bool front_token_ok(const char *h, const char *token, size_t idlen)
{
	return h && strlen(h) == idlen && CRYPTO_memcmp(h, token, idlen) == 0;
}
