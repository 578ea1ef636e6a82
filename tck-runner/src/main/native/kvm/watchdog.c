/*
 * watchdog.c - see watchdog.h.
 */
#define _GNU_SOURCE
#include "watchdog.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kvm_util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char method[64];
static uint64_t started_ns;      /* 0: no request in progress */
static uint64_t idle_since_ns;   /* when the last answer was written (0: none yet) */
static int reported, idle_reported;
/* the last protocol events, for the report */
#define RING 12
static char ring[RING][96];
static uint64_t ring_ns[RING];
static unsigned ring_next;

void watchdog_note(const char *what, size_t len)
{
	pthread_mutex_lock(&lock);
	unsigned i = ring_next++ % RING;
	snprintf(ring[i], sizeof(ring[i]), "%.*s", (int)(len < 90 ? len : 90), what);
	ring_ns[i] = now_ns();
	pthread_mutex_unlock(&lock);
}

void watchdog_begin(const char *m)
{
	pthread_mutex_lock(&lock);
	snprintf(method, sizeof(method), "%s", m);
	started_ns = now_ns();
	reported = 0;
	pthread_mutex_unlock(&lock);
}

void watchdog_end(void)
{
	pthread_mutex_lock(&lock);
	started_ns = 0;
	idle_since_ns = now_ns();
	idle_reported = 0;
	pthread_mutex_unlock(&lock);
}

/* The first line of a small /proc file into buf (newline removed); "?" when it cannot be read. */
static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, (int)size, f))
		snprintf(buf, size, "?");
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

/* A kernel stack as "fn1 < fn2 < ..." (innermost first, offsets dropped), at most size bytes. */
static void read_stack(const char *path, char *buf, size_t size)
{
	buf[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(buf, size, "(no kernel stack: %s)", strerror(errno));
		return;
	}
	char line[256];
	size_t used = 0;
	while (fgets(line, sizeof(line), f) && used + 4 < size) {
		char *fn = strchr(line, ']');        /* "[<0>] kvm_vcpu_block+0x5a/0x90" */
		fn = fn ? fn + 1 : line;
		fn += strspn(fn, " ");
		fn[strcspn(fn, "+\n")] = 0;
		used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? " < " : "", fn);
	}
	fclose(f);
}

static void report(const char *m, uint64_t seconds)
{
	char load[128];
	read_line("/proc/loadavg", load, sizeof(load));
	logf_("watchdog: `%s` has run for %llu s (guest load %s); the adapter's threads:", m,
	      (unsigned long long)seconds, load);
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[320], stat[256], wchan[96], stack[300];
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		read_line(path, stat, sizeof(stat));
		snprintf(path, sizeof(path), "/proc/self/task/%s/wchan", e->d_name);
		read_line(path, wchan, sizeof(wchan));
		snprintf(path, sizeof(path), "/proc/self/task/%s/stack", e->d_name);
		read_stack(path, stack, sizeof(stack));
		const char *state = strrchr(stat, ')');      /* "tid (comm) S ..." */
		logf_("watchdog:   tid %s %.1s wchan=%s stack: %s", e->d_name, state ? state + 2 : "?", wchan, stack);
	}
	closedir(d);
}

static void *loop(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(1);
		char m[sizeof(method)];
		uint64_t seconds = 0;
		pthread_mutex_lock(&lock);
		if (started_ns && !reported && now_ns() - started_ns >= WATCHDOG_SECONDS * 1000000000ull) {
			reported = 1;
			seconds = (now_ns() - started_ns) / 1000000000ull;
			memcpy(m, method, sizeof(m));
		}
		pthread_mutex_unlock(&lock);
		int idle = 0;
		char events[RING][120];
		int nevents = 0;
		pthread_mutex_lock(&lock);
		if (!started_ns && idle_since_ns && !idle_reported && now_ns() - idle_since_ns >= WATCHDOG_SECONDS * 1000000000ull) {
			idle_reported = idle = 1;
			for (unsigned k = 0; k < RING; k++) {
				unsigned i = (ring_next + k) % RING;
				if (ring_ns[i])
					snprintf(events[nevents++], sizeof(events[0]), "-%llu ms %s",
						 (unsigned long long)((now_ns() - ring_ns[i]) / 1000000), ring[i]);
			}
		}
		pthread_mutex_unlock(&lock);
		if (seconds)
			report(m, seconds);
		if (idle) {
			logf_("watchdog: no request for %d s since the last answer; the last protocol events:", WATCHDOG_SECONDS);
			for (int i = 0; i < nevents; i++)
				logf_("watchdog:   %s", events[i]);
		}
	}
	return NULL;
}

int watchdog_start(void)
{
	pthread_t t;
	int e = pthread_create(&t, NULL, loop, NULL);
	if (!e)
		pthread_detach(t);
	return e;
}
