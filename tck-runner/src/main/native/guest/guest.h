/*
 * The TCK's test guest: a freestanding kernel (no OS) that answers a line protocol on the first
 * serial port (docs/test-guest-protocol.md). The protocol is common C (main.c); everything that
 * touches the machine sits behind the arch_* calls below, one file set per architecture.
 */
#ifndef GUEST_H
#define GUEST_H

#define GUEST_VERSION 1
#define MAX_CPUS 8          /* vCPUs the guest brings up; more are left offline */
#define LINE 600            /* longest request or answer line, newline excluded */
#define STACK_SHIFT 14      /* each vCPU's stack: 16 KiB */

#ifndef __ASSEMBLER__       /* the entry code includes the constants above */
#include <stdint.h>
#include <stddef.h>

/* A string being built into a fixed buffer (answers are formatted with these). */
struct out {
    char *p;
    char *end;
};
void out_str(struct out *o, const char *s);
void out_hex(struct out *o, uint64_t v);        /* 0x-prefixed, no leading zeros */
void out_dec(struct out *o, uint64_t v);
void out_bytes(struct out *o, const void *src, size_t n);   /* two hex digits per byte */

/* Parses decimal or 0x-hexadecimal; returns 0 on success. */
int parse_u64(const char *s, uint64_t *v);
int streq(const char *a, const char *b);
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);

/* Serial console. */
void console_puts(const char *s);

/* One vCPU's mailbox: vCPU 0 reads the serial port and hands a request to vCPU n here. */
struct mailbox {
    uint32_t state;         /* MB_IDLE, MB_REQUEST, MB_DONE (atomic) */
    char request[LINE + 1];
    char answer[LINE + 1];
};
enum { MB_IDLE, MB_REQUEST, MB_DONE };

/* main.c: the protocol. vCPU 0 calls guest_serve() and never returns; vCPU n calls guest_secondary(n). */
void guest_serve(void);
void guest_secondary(unsigned cpu);

/* ---- what each architecture provides -------------------------------------------------------- */
extern const char arch_name[];
extern unsigned cpu_count;                      /* vCPUs up, vCPU 0 included */
void arch_putc(char c);
int arch_getc(void);                            /* blocks */
uint64_t arch_now_ns(void);                     /* the guest's own clock */
void arch_relax(void);                          /* one pause in a spin loop */
uint64_t arch_idle(uint64_t ns);                /* halts, woken by a timer, until ns passed; returns wake-ups */
void arch_kick(unsigned cpu);                   /* wakes vCPU cpu from arch_wait() */
void arch_wait(void);                           /* halts until kicked (may return early) */
void arch_power_off(void);
/* Guest-physical memory access; returns 0, or nonzero with the answer (err, or the fault) in o. */
int arch_read(uint64_t gpa, void *buf, size_t len, struct out *o);
int arch_write(uint64_t gpa, const void *buf, size_t len, struct out *o);
/* hello's architecture facts (" key=value" each), the calling vCPU's identity first. */
void arch_hello(struct out *o);
/* An architecture's own verbs (cpuid, rdmsr, wrmsr; smccc). Returns 0 when verb is not one. */
int arch_request(const char *verb, char **argv, int argc, struct out *o);

#endif /* __ASSEMBLER__ */
#endif
