/*
 * kvm_util.h - error reporting shared by the adapter's files. Every failed system call is
 * reported with the call, its errno name and number, and what the adapter was doing; the text
 * goes back to the TCK in the JSON-RPC error, so a failure explains itself on the TCK's side.
 */
#ifndef TCK_KVM_UTIL_H
#define TCK_KVM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ERR_LEN 256

/* Formats "<what>: <errno name> (<errno>): <strerror>" into err (ERR_LEN bytes). Returns -1. */
int sys_fail(char *err, int errnum, const char *what, ...) __attribute__((format(printf, 3, 4)));

/* Formats a plain message into err. Returns -1. */
int fail_msg(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The symbolic name of an errno value ("EINVAL"), or "E?" */
const char *errno_name(int e);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/* CPU time of the calling thread in nanoseconds. */
uint64_t thread_cpu_ns(void);

/* This thread's Linux thread id. */
int current_tid(void);

/* Field 2 (run_delay, ns) of /proc/self/task/TID/schedstat; -1 with err set on failure. */
int64_t run_delay_ns(int tid, char *err);

/* The one-letter state of thread tid (R, S, D, ...) or '?' */
char thread_state(int tid);

/* A spin-wait hint to the CPU (the competitor's busy hold). */
#if defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield" ::: "memory")
#elif defined(__x86_64__)
#define cpu_relax() __asm__ volatile("pause" ::: "memory")
#else
#define cpu_relax() __asm__ volatile("" ::: "memory")
#endif

/* Logs a line to stderr (the emulated machine's console, captured by the TCK). */
void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
