/*
 * protocol.h - the adapter protocol's methods (docs/adapter-protocol.md), served over one
 * byte stream: requests in, responses out, one JSON object per line, strictly in turn.
 */
#ifndef TCK_PROTOCOL_H
#define TCK_PROTOCOL_H

#include <stddef.h>

/* Serves requests from in_fd until end of input; answers on out_fd. Returns 0 at end of input. */
int protocol_serve(int in_fd, int out_fd, const char *unavailable_reason);

/* Handles one request line; appends the response line (with its '\n') to out. */
struct jbuf;
void protocol_handle_line(const char *line, size_t len, struct jbuf *out);

/* Closes every VM of the session. */
void protocol_reset(void);

#endif
