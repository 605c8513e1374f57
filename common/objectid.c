/* objectid.c — MAILBOXID and EMAILID (see objectid.h). */
#include "common/objectid.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void hex_id(char letter, const unsigned char *b, char out[OBJECTID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	out[0] = letter;
	for (int i = 0; i < 12; i++) {
		out[1 + 2 * i] = hex[b[i] >> 4];
		out[2 + 2 * i] = hex[b[i] & 15];
	}
	out[OBJECTID_LEN] = '\0';
}

/* SHA-256 fetched once: EVP_Digest with EVP_sha256() fetches the
 * implementation on every call, half the cost of an id (a JMAP sync makes
 * one per message). NULL if the fetch failed (EVP_sha256() then). */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int objectid_valid(const char *s, char letter)
{
	if (!s || s[0] != letter || strlen(s) != OBJECTID_LEN)
		return 0;
	for (s++; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static int read_id(const char *path, char out[OBJECTID_LEN + 1])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	char buf[OBJECTID_LEN + 2];
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < OBJECTID_LEN)
		return -1;
	buf[OBJECTID_LEN] = '\0';
	if (!objectid_valid(buf, 'M'))
		return -1;
	memcpy(out, buf, OBJECTID_LEN + 1);
	return 0;
}

int objectid_mailbox(const char *dir, char out[OBJECTID_LEN + 1])
{
	char *path = xasprintf("%s/%s", dir, MAILBOXID_FILE);
	int r = read_id(path, out);
	if (r == 0) {
		free(path);
		return 0;
	}
	/* First use: write a new id under a temporary name and link it into
	 * place, so two processes racing agree on the one that won. */
	unsigned char rnd[12];
	char id[OBJECTID_LEN + 2];
	char *tmp = xasprintf("%s/%s.%d", dir, MAILBOXID_FILE, (int)getpid());
	int fd = RAND_bytes(rnd, sizeof rnd) == 1
		 ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
	if (fd >= 0) {
		hex_id('M', rnd, id);
		id[OBJECTID_LEN] = '\n';
		r = write_all(fd, id, OBJECTID_LEN + 1);
		if (close(fd) < 0)
			r = -1;
		if (r == 0 && link(tmp, path) < 0 && errno != EEXIST)
			r = -1;
		unlink(tmp);
		if (r == 0)
			r = read_id(path, out);
	}
	int e = errno;
	free(tmp);
	free(path);
	errno = e;
	return fd < 0 ? -1 : r;
}

void objectid_email(const char *file, char out[OBJECTID_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	const char *colon = strchr(file, ':');
	size_t len = colon ? (size_t)(colon - file) : strlen(file);
	pthread_once(&sha256_once, sha256_fetch);
	if (!EVP_Digest(file, len, md, &n, sha256 ? sha256 : EVP_sha256(), NULL))
		memset(md, 0, sizeof md);
	hex_id('E', md, out);
}
