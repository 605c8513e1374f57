/* fuzz_ipc.h — for libFuzzer targets of IPC decoders: the input as the
 * payload of a received frame (the header as ipc_encode writes it). */
#ifndef TERN_FUZZ_IPC_H
#define TERN_FUZZ_IPC_H

#include "common/ipc.h"
#include "common/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* false when the input cannot be a payload (over IPC_MAX_PAYLOAD). */
static inline bool fuzz_ipc_payload(const uint8_t *data, size_t size, struct ipc_msg *m)
{
	if (size > IPC_MAX_PAYLOAD)
		return false;
	unsigned char *buf = xmalloc(IPC_HDR_LEN + size + 1);
	memset(buf, 0, IPC_HDR_LEN);
	buf[0] = (unsigned char)(size >> 24);
	buf[1] = (unsigned char)(size >> 16);
	buf[2] = (unsigned char)(size >> 8);
	buf[3] = (unsigned char)size;
	buf[6] = IPC_VERSION;
	if (size)
		memcpy(buf + IPC_HDR_LEN, data, size);
	bool ok = ipc_decode(buf, IPC_HDR_LEN + size, m) > 0;
	free(buf);
	return ok;
}

#endif
