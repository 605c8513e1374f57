/* blob.c — JMAP upload and download (see blob.h). */
#include "httpd/blob.h"
#include "httpd/blob_seal.h"
#include "httpd/chan.h"
#include "httpd/email.h"
#include "httpd/jmap.h"
#include "httpd/sess.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool upload_id(const char *s)
{
	if ((s[0] != 'G' && s[0] != BLOB_SEALED) || strlen(s) != 41)
		return false;
	for (s++; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int blob_open(struct sess *s, const char *blob_id, int *fd, size_t *len)
{
	struct stat st;
	if (!upload_id(blob_id))
		return email_blob_open(s, blob_id, fd, len);
	char *path = xasprintf("%s/%s", BLOB_DIR, blob_id);
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (*fd < 0)
		return -1;
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	if (blob_id[0] != BLOB_SEALED)
		return 0;
	int sealed = *fd, r = blob_seal_open(sealed, *len, blob_id, fd, len);
	close(sealed);
	return r;
}

int blob_chunks_at(int fd, off_t off, size_t n, blob_chunk_fn *fn, void *ctx)
{
	unsigned char buf[65536];
	for (size_t done = 0; done < n;) {
		size_t want = n - done < sizeof buf ? n - done : sizeof buf;
		ssize_t r = pread(fd, buf, want, off + (off_t)done);
		if (r <= 0 || fn(ctx, buf, (size_t)r) < 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

int blob_chunks(const void *inl, int fd, size_t n, blob_chunk_fn *fn, void *ctx)
{
	return inl || fd < 0 ? fn(ctx, inl, n) : blob_chunks_at(fd, 0, n, fn, ctx);
}

static int digest_chunk(void *ctx, const unsigned char *p, size_t n)
{
	return EVP_DigestUpdate(ctx, p, n) ? 0 : -1;
}

/* The SHA-256 of n bytes from fd (or of inl when fd < 0) as a blob id. */
static bool digest_id(const void *inl, int fd, size_t n, char out[42])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		  blob_chunks(inl, fd, n, digest_chunk, ctx) == 0 &&
		  EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	out[0] = 'G';
	for (int i = 0; ok && i < 20; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
	return ok;
}

static int copy_chunk(void *ctx, const unsigned char *p, size_t n)
{
	return write_all(*(int *)ctx, p, n);
}

/* Write the upload to tern-blobs/ID (via a temporary name), sealed or as
 * it came. */
static int store(const void *inl, int fd, size_t n, const char *blob_id)
{
	if (mkdir(BLOB_DIR, 0700) < 0 && errno != EEXIST)
		return -1;
	char *tmp = xasprintf("%s/.tmp.%s", BLOB_DIR, blob_id);
	char *path = xasprintf("%s/%s", BLOB_DIR, blob_id);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r = out < 0 ? -1 : blob_id[0] == BLOB_SEALED ? blob_seal_write(inl, fd, n, blob_id, out)
							   : blob_chunks(inl, fd, n, copy_chunk, &out);
	if (out >= 0 && (close(out) < 0 || r < 0 || rename(tmp, path) < 0))
		r = -1;
	if (r < 0)
		unlink(tmp);
	free(tmp);
	free(path);
	return r;
}

void blob_upload(struct sess *s, uint32_t id, const char *account, const char *ctype,
		 struct ipc_msg *m)
{
	size_t len;
	const void *inl;
	int fd;
	if (!chan_get_body_ref(m, s->conf->lim.max_size_upload, &len, &inl, &fd)) {
		sess_problem(s, id, 413, ERR_PREFIX "limit", "maxSizeUpload", "The upload is too large");
		return;
	}
	char blob_id[42];
	if (strcmp(account, s->account)) {
		sess_problem(s, id, 404, "about:blank", NULL, "No such account");
	} else if (!(blob_seal_wanted() ? blob_seal_id(inl, fd, len, blob_id)
					: digest_id(inl, fd, len, blob_id)) ||
		   store(inl, fd, len, blob_id) < 0) {
		log_err("http: user=%s: cannot store an upload: %s", s->user, strerror(errno));
		sess_problem(s, id, 500, "about:blank", NULL, "Cannot store the upload");
	} else {
		json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "accountId", s->account, "blobId", blob_id,
				      "type", *ctype ? ctype : "application/octet-stream",
				      "size", (json_int_t)len);
		sess_reply_json(s, id, 201, "application/json", o);
	}
	if (fd >= 0)
		close(fd);
}

/* A media type we may send as it is: type/subtype with parameters made of
 * token characters (no quotes, no controls). */
static bool plain_type(const char *t)
{
	if (!*t || strlen(t) > 255 || !strchr(t, '/'))
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
		      strchr("!#$&^_.+-/;= ", *t)))
			return false;
	return true;
}

/* Content-Disposition with the file name in RFC 8187 form. */
static char *disposition(const char *name)
{
	struct evbuffer *b = evbuffer_new();
	evbuffer_add_printf(b, "Content-Disposition: attachment; filename*=UTF-8''");
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("!#$&+-.^_`|~", *p))
			evbuffer_add(b, p, 1);
		else
			evbuffer_add_printf(b, "%%%02X", *p);
	}
	/* never rendered as a page of this origin, whatever its type says */
	evbuffer_add_printf(b, "\nCache-Control: private, immutable, max-age=86400\n"
			    "Content-Security-Policy: default-src 'none'; sandbox\n");
	size_t n = evbuffer_get_length(b);
	char *out = xmalloc(n + 1);
	evbuffer_remove(b, out, n);
	out[n] = '\0';
	evbuffer_free(b);
	return out;
}

void blob_download(struct sess *s, uint32_t id, const char *arg)
{
	/* accountId/blobId/name?accept=TYPE, still %-encoded */
	char *copy = xstrdup(arg), *q = strchr(copy, '?');
	if (q)
		*q++ = '\0';
	char *acct = copy, *blob = strchr(acct, '/'), *name = blob ? strchr(blob + 1, '/') : NULL;
	if (!name) {
		sess_problem(s, id, 404, "about:blank", NULL, "Not found");
		free(copy);
		return;
	}
	*blob++ = '\0';
	*name++ = '\0';
	struct evkeyvalq args;
	TAILQ_INIT(&args);
	if (q)
		evhttp_parse_query_str(q, &args);
	const char *accept = evhttp_find_header(&args, "accept");
	size_t dlen = 0;
	char *dname = evhttp_uridecode(name, 0, &dlen);
	int fd;
	size_t len;
	if (strcmp(acct, s->account) || blob_open(s, blob, &fd, &len) < 0) {
		sess_problem(s, id, 404, "about:blank", NULL, "No such blob");
	} else {
		/* a name with NUL in it is not a file name */
		char *hdrs = disposition(dname && *dname && strlen(dname) == dlen ? dname : "blob");
		sess_reply_fd(s, id, 200, accept && plain_type(accept) ? accept : "application/octet-stream",
			      hdrs, fd, len);
		free(hdrs);
	}
	free(dname);
	evhttp_clear_headers(&args);
	free(copy);
}

void blob_expire(void)
{
	DIR *d = opendir(BLOB_DIR);
	if (!d)
		return;
	time_t now = time(NULL);
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (now - st.st_mtime > BLOB_KEEP_S ||
		     (e->d_name[0] == BLOB_SEALED && st.st_mtime < blob_seal_since())))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}
