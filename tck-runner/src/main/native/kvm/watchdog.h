/*
 * watchdog.h - says on the console what the adapter is doing when one request runs long.
 *
 * The TCK gives up on a request after its call timeout (60 s by default) and shows the console's
 * last lines. A request that has run WATCHDOG_SECONDS is reported there once, before that happens:
 * the method, the guest's load, and for every thread of the adapter its state, its kernel wait
 * channel and its kernel stack (/proc/self/task/TID/{stat,wchan,stack}), so that a hang inside KVM
 * names the function it waits in.
 */
#ifndef TCK_WATCHDOG_H
#define TCK_WATCHDOG_H

#include <stddef.h>

#define WATCHDOG_SECONDS 20

/* Starts the watchdog thread (once). Returns 0, or an errno when the thread cannot be created. */
int watchdog_start(void);
/* A request for method has started / its answer has been written (so a write that blocks is seen too). */
void watchdog_begin(const char *method);
void watchdog_end(void);
/* Keeps a protocol event (the start of a request line, an answer's size) for the report. */
void watchdog_note(const char *what, size_t len);

#endif
