/* fuzz_login_handoff.c — libFuzzer target for the login -> mail hand-off
 * decoder (common/login_handoff.h) that the mail roles of imapd, pop3d and
 * httpd run on what arrives on their hand-off sockets: the input is the
 * payload of a frame, decoded with and without a file descriptor attached.
 *
 * Invariants checked: only a message with an fd is accepted; what is
 * accepted keeps every field within its limit and no unknown flag bit, and
 * the encoder turns the decoded fields back into the very bytes of the
 * input. Run: make fuzz (long) or make fuzz-smoke (make check). */
#include "tests/fuzz/fuzz_ipc.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/login_handoff.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TYPE 300

/* One descriptor for the whole run, duplicated per input (open per input
 * would be most of the time spent). */
static int null_fd = -1;

static void check_fields(const struct login_handoff *h)
{
	if (h->fd < 0 || (h->flags & ~LOGIN_HF_ALL) || strlen(h->user) > LOGIN_HANDOFF_USER_MAX ||
	    strlen(h->token) > LOGIN_HANDOFF_TOKEN_MAX || strlen(h->tag) > LOGIN_HANDOFF_TAG_MAX ||
	    strlen(h->ip) > LOGIN_HANDOFF_IP_MAX || h->npending > LOGIN_HANDOFF_PENDING_MAX)
		abort();
}

static void one(const uint8_t *data, size_t size, bool with_fd)
{
	struct ipc_msg m;
	if (!fuzz_ipc_payload(data, size, &m))
		return;
	m.hdr.type = TYPE;
	if (with_fd)
		m.fd = fcntl(null_fd, F_DUPFD_CLOEXEC, 0);
	struct login_handoff h;
	if (login_handoff_get(&m, TYPE, "fuzz", &h)) {
		if (!with_fd)
			abort();
		check_fields(&h);
		struct ipc_msg r;
		ipc_msg_init(&r, TYPE, 0);
		login_handoff_put(&r, &h);	/* takes h.fd */
		if (r.hdr.len != size || memcmp(r.data, data, size))
			abort();
		ipc_msg_free(&r);
	} else if (h.fd >= 0) {
		close(h.fd);
	}
	ipc_msg_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (null_fd < 0) {
		null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		log_set_level(LOG_LVL_ERR);	/* a refusal per input is the normal case */
	}
	one(data, size, false);
	one(data, size, true);
	return 0;
}
