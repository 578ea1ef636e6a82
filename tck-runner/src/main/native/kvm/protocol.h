/*
 * protocol.h - the adapter protocol's methods (docs/adapter-protocol.md), served over one
 * byte stream: requests in, responses out, one JSON object per line, strictly in turn. The
 * common methods (hello, open, close, bye, memory.*, vcpu.*) are in protocol.c; each
 * architecture adds its own (arch_methods, arch.h) with the helpers below.
 */
#ifndef TCK_PROTOCOL_H
#define TCK_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

struct json;
struct jbuf;
struct vm;
struct vcpu;

/* JSON-RPC error codes; the positive ones map to the SPI's exceptions. */
enum { E_PARSE = -32700, E_REQUEST = -32600, E_METHOD = -32601, E_PARAMS = -32602,
       E_UNSUPPORTED = 1, E_OUTSIDE_RAM = 2, E_STATE = 3, E_FAILED = 4 };

/* One call being answered. */
struct call {
	const struct json *id, *params;
	struct jbuf *out;
	int answered;
};

struct method {
	const char *name;
	int (*handler)(struct call *);
};

/* Answers an error; returns -1 so handlers can `return rpc_error(...)`. */
int rpc_error(struct call *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Starts a result object: the handler appends members after "{" and calls rpc_end. */
void rpc_begin(struct call *c);
int rpc_end(struct call *c);
int rpc_empty(struct call *c);

/* Params: each answers the error itself (returning -1 / NULL) when the param is bad. */
int param_u64(struct call *c, const char *key, uint64_t *out);
int param_int(struct call *c, const char *key, int lo, int hi, int *out);
struct vm *param_vm(struct call *c);
struct vcpu *param_vcpu(struct call *c);

/* The architecture's own methods (arch.h), tried after the common ones. */
extern const struct method arch_methods[];
extern const size_t arch_nmethods;

/* Serves requests from in_fd until end of input; answers on out_fd. Returns 0 at end of input. */
int protocol_serve(int in_fd, int out_fd, const char *unavailable_reason);

/* Handles one request line; appends the response line (with its '\n') to out. */
void protocol_handle_line(const char *line, size_t len, struct jbuf *out);

/* Closes every VM of the session. */
void protocol_reset(void);

#endif
