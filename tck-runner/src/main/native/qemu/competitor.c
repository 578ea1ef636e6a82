/*
 * competitor.c - takes one CPU away from a QEMU vCPU thread on request (the qemu provider's helper).
 *
 * The same mechanism as the C adapter's competitor (../kvm/competitor.c): a SCHED_FIFO thread pinned
 * to the vCPU thread's CPU wakes while the vCPU runs the guest and spins for a given amount of its
 * own CPU time; the SCHED_OTHER vCPU thread stays runnable but cannot run, so its schedstat
 * run_delay grows (what KVM reports as steal). Here the vCPU thread belongs to QEMU, so the helper
 * is a process of its own, driven by one request per line on stdin, one answer per line on stdout:
 *
 *   pin TID CPU            sched_setaffinity of thread TID to CPU            -> ok | err ...
 *   preempt TID CPU NS     wait until TID runs (state R), sleep 1 ms, spin NS on CPU -> ok | missed | err ...
 *   idle TID CPU NS        -> armed, then ok | missed | err ...: notes TID's state and switch count, says
 *                          "armed" (now send the guest its idle), sleeps 0.6 ms, waits until TID has
 *                          run since (when it was asleep at first) and sleeps again (state S: the
 *                          guest's HLT), then spins NS on CPU
 *   cancel                 while a preempt or idle still waits for its moment: give up, answer
 *                          "missed" (the guest already answered its request: the run or the halt came
 *                          and went unseen, as when a stalled emulated machine did not schedule this
 *                          helper for longer than the run lasted; the caller asks again). At any
 *                          other time (the hold had begun): ignored, no answer.
 *
 * Exits at end of input. Needs CAP_SYS_NICE (SCHED_FIFO) and the right to set TID's affinity.
 *
 * Inside the qemu provider's emulated machine stdin and stdout are a virtio-serial port whose host
 * side is a Unix socket: until QEMU has accepted the TCK's connection, what the port sends is
 * dropped, so "ready" waits until the port stops reporting POLLHUP (the host connected). The same
 * wait serves the machine's agent: competitor --await-host PATH... opens each port and waits for it
 * (exit 0), or says which one stayed unconnected (exit 1).
 *
 * A live migration between two emulated machines goes over their migration ports, the TCK relaying
 * the bytes. A port never ends its stream (the other side's cat has no end of input), and QEMU 7.2
 * finishes an incoming migration only once its exec: command has ended: so the stream goes framed.
 *   competitor --frame-out PATH   stdin (QEMU's outgoing stream) to PATH as frames: a 4-byte
 *                                 little-endian length, then that many bytes; at end of input a
 *                                 frame of length 0.
 *   competitor --frame-in PATH    the frames from PATH to stdout, until the frame of length 0 (exit
 *                                 0); an early end of PATH is exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FIFO_PRIORITY 10            /* above SCHED_OTHER, below the kernel's migration threads */
#define START_AFTER_NS 1000000L     /* the vCPU thread is back in the guest when the hold begins */
#define FIRST_SLEEP_NS 600000L      /* outlasts KVM's halt polling */
#define POLL_NS 20000L
#define STATE_TIMEOUT_NS 10000000000ULL   /* a loaded machine delays the serial path by seconds */

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The state letter of thread tid (R, S, D, ...), '?' when it cannot be read. */
static char thread_state(int tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return '?';
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static int pin(int tid, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set);
}

/* Field 3 of /proc/TID/schedstat: how many times the thread was scheduled in; -1 when unreadable. */
static long long switches(int tid)
{
	char path[64];
	unsigned long long on_cpu, delay, count;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int n = fscanf(f, "%llu %llu %llu", &on_cpu, &delay, &count);
	fclose(f);
	return n == 3 ? (long long)count : -1;
}

#define CANCELLED 1

/* Whether a line has come on stdin (unbuffered: what poll sees is all there is): the caller's
   "cancel", read here. */
static int cancelled(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	char line[64];
	if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
		return 0;
	return fgets(line, sizeof(line), stdin) && !strncmp(line, "cancel", 6);
}

/* Waits until tid was scheduled in more than `since` times: 0; CANCELLED when the caller said
   cancel; -1 after the timeout. */
static int await_switch(int tid, long long since)
{
	uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + STATE_TIMEOUT_NS;
	while (switches(tid) <= since) {
		if (cancelled())
			return CANCELLED;
		if (clock_ns(CLOCK_MONOTONIC) > deadline)
			return -1;
		sleep_ns(POLL_NS);
	}
	return 0;
}

/* Waits until tid is in state want: 0; CANCELLED when the caller said cancel; -1 after the timeout
   with the last state in *seen. */
static int await_state(int tid, char want, char *seen)
{
	uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + STATE_TIMEOUT_NS;
	while ((*seen = thread_state(tid)) != want) {
		if (cancelled())
			return CANCELLED;
		if (clock_ns(CLOCK_MONOTONIC) > deadline)
			return -1;
		sleep_ns(POLL_NS);
	}
	return 0;
}

static void spin(uint64_t ns)
{
	uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	while (clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0 < ns)
#if defined(__x86_64__) || defined(__i386__)
		__asm__ volatile("pause");
#elif defined(__aarch64__)
		__asm__ volatile("yield");
#endif
}

#define HOST_TIMEOUT_MS 10000

/* Waits until fd's far side is connected (no POLLHUP); 0, or -1 after HOST_TIMEOUT_MS. */
static int await_host(int fd)
{
	for (int waited = 0; waited < HOST_TIMEOUT_MS; waited += 5) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP))
			return 0;
		sleep_ns(5000000L);
	}
	return -1;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, unsigned char *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

#define FRAME (64 * 1024)

static int frame_out(const char *path)
{
	static unsigned char buf[4 + FRAME];
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return 1;
	for (;;) {
		ssize_t n = read(0, buf + 4, FRAME);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1;
		buf[0] = (unsigned char)n;
		buf[1] = (unsigned char)(n >> 8);
		buf[2] = (unsigned char)(n >> 16);
		buf[3] = 0;
		if (write_all(fd, buf, 4 + (size_t)n))
			return 1;
		if (n == 0)
			return 0;
	}
}

static int frame_in(const char *path)
{
	static unsigned char buf[FRAME];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 1;
	for (;;) {
		unsigned char h[4];
		if (read_all(fd, h, 4))
			return 1;
		size_t n = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24;
		if (n == 0)
			return 0;
		if (n > FRAME || read_all(fd, buf, n) || write_all(1, buf, n))
			return 1;
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--frame-out"))
		return frame_out(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--frame-in"))
		return frame_in(argv[2]);
	if (argc > 1 && !strcmp(argv[1], "--await-host")) {
		for (int i = 2; i < argc; i++) {
			int fd = open(argv[i], O_RDWR | O_NONBLOCK);
			if (fd < 0 || await_host(fd)) {
				printf("err %s: no host connection within %d ms%s%s\n", argv[i], HOST_TIMEOUT_MS,
				       fd < 0 ? ": " : "", fd < 0 ? strerror(errno) : "");
				return 1;
			}
			close(fd);
		}
		return 0;
	}
	if (await_host(1)) {
		fprintf(stderr, "competitor: no host connection on stdout within %d ms\n", HOST_TIMEOUT_MS);
		return 1;
	}
	struct sched_param sp = { .sched_priority = FIFO_PRIORITY };
	if (sched_setscheduler(0, SCHED_FIFO, &sp)) {
		printf("err SCHED_FIFO: %s\n", strerror(errno));
		return 1;
	}
	setvbuf(stdin, NULL, _IONBF, 0);    /* poll() on fd 0 then sees every line not yet read */
	printf("ready\n");
	fflush(stdout);
	char line[256], verb[16];
	int tid, cpu;
	unsigned long long ns;
	while (fgets(line, sizeof(line), stdin)) {
		int n = sscanf(line, "%15s %d %d %llu", verb, &tid, &cpu, &ns);
		char seen = '?';
		int r;
		if (n >= 1 && !strcmp(verb, "cancel"))
			continue;           /* too late: the hold had begun, and its answer is on its way */
		if (n == 3 && !strcmp(verb, "pin")) {
			if (pin(tid, cpu))
				printf("err pinning thread %d to CPU %d: %s\n", tid, cpu, strerror(errno));
			else
				printf("ok\n");
		} else if (n == 4 && (!strcmp(verb, "preempt") || !strcmp(verb, "idle"))) {
			int idle = !strcmp(verb, "idle");
			if (pin(0, cpu)) {
				printf("err pinning the competitor to CPU %d: %s\n", cpu, strerror(errno));
			} else if (idle) {
				char s0 = thread_state(tid);
				long long p0 = switches(tid);
				printf("armed\n");
				fflush(stdout);
				sleep_ns(FIRST_SLEEP_NS);
				if (s0 != 'R' && (r = await_switch(tid, p0)))
					printf(r == CANCELLED ? "missed: the guest answered before vCPU thread %d woke\n"
					       : "err vCPU thread %d (asleep) did not wake for the idle request within 10 s\n", tid);
				else if ((r = await_state(tid, 'S', &seen)) == CANCELLED)
					printf("missed: the guest answered before vCPU thread %d was seen halted\n", tid);
				else if (r)
					printf("err vCPU thread %d did not block in the guest's HLT within 10 s (state %c)\n", tid, seen);
				else {
					spin(ns);
					printf("ok\n");
				}
			} else if ((r = await_state(tid, 'R', &seen)) == CANCELLED) {
				printf("missed: the guest answered before vCPU thread %d was seen running\n", tid);
			} else if (r) {
				printf("err vCPU thread %d did not run within 10 s (state %c)\n", tid, seen);
			} else {
				sleep_ns(START_AFTER_NS);
				spin(ns);
				printf("ok\n");
			}
		} else {
			printf("err unknown request: %s", line);
		}
		fflush(stdout);
	}
	return 0;
}
