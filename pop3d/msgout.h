/* msgout.h — the RETR/TOP writer: a stored message (LF or CRLF line endings)
 * becomes the wire form: every bare LF turns into CRLF, a line starting with
 * "." gets a second one (RFC 1939 3, byte-stuffing), and TOP stops after the
 * header, the blank line and N body lines. Streaming: a message is fed in
 * chunks of any size; the state carries across chunk boundaries. */
#ifndef TERN_MSGOUT_H
#define TERN_MSGOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msgout {
	bool bol;		/* at the start of a line */
	bool prev_cr;		/* the last byte fed was CR */
	bool line_empty;	/* nothing but (maybe) CR on this line so far */
	bool in_body;		/* the header/body separator has been passed */
	bool done;		/* TOP limit reached: ignore the rest */
	long body_left;		/* body lines still to send; -1 = all */
};

/* body_lines: -1 for RETR, else the TOP line count. */
void msgout_init(struct msgout *w, long body_lines);
/* Convert n bytes of in into out (room for 2*n bytes); returns bytes written. */
size_t msgout_feed(struct msgout *w, const char *in, size_t n, char *out);
/* End of the message: a CRLF if the last line had none, then ".\r\n". out must
 * have room for 5 bytes; returns bytes written. */
size_t msgout_finish(struct msgout *w, char *out);

/* Size of the CRLF form of a stored message (without stuffing or the final
 * "."), counting as msgout does: bytes + bare LFs, + 2 if it does not end in LF.
 * Incremental: call with each chunk, then msgsize_end. */
struct msgsize {
	uint64_t size;
	bool prev_cr;
	bool ends_lf;
	bool any;
};
void msgsize_feed(struct msgsize *s, const char *in, size_t n);
uint64_t msgsize_end(struct msgsize *s);

#endif
