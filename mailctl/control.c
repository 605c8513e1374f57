/* control.c — client and reply side of the control channel. */
#include "mailctl/control.h"
#include "mailctl/runstate.h"
#include "common/ipc.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int ctl_request(const char *run_dir, enum ctl_type type, int timeout_ms, char **text)
{
	char *path = xasprintf("%s/%s", run_dir, MASTER_SOCKET);
	int s = ipc_connect(path);
	int e = errno;
	free(path);
	*text = NULL;
	if (s < 0) {
		errno = e;
		return -1;
	}
	struct ipc_msg m;
	ipc_msg_init(&m, (uint16_t)type, 1);
	int r = ipc_send(s, &m);
	ipc_msg_free(&m);
	if (r < 0 || ipc_recv(s, &m, timeout_ms) < 0) {
		close(s);
		return -1;
	}
	uint32_t result = ipc_get_u32(&m);
	const char *t = ipc_get_str(&m, CTL_TEXT_MAX);
	r = (m.hdr.type == CTL_REPLY && ipc_end(&m)) ? (int)result : -1;
	if (r >= 0)
		*text = xstrdup(t);
	ipc_msg_free(&m);
	close(s);
	return r;
}

int ctl_request_type(struct ipc_msg *m)
{
	uint16_t t = m->hdr.type;
	bool known = t == CTL_STATUS || t == CTL_RELOAD || t == CTL_STOP;
	return known && ipc_end(m) && m->fd < 0 ? t : -1;
}

void ctl_reply(int fd, uint32_t result, const char *text)
{
	struct ipc_msg m;
	ipc_msg_init(&m, CTL_REPLY, 1);
	ipc_put_u32(&m, result);
	ipc_put_str(&m, text);
	(void)ipc_send(fd, &m);
	ipc_msg_free(&m);
	close(fd);
}
