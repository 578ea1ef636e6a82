/*
 * sampler.c - see sampler.h.
 */
#define _GNU_SOURCE
#include "sampler.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * A reader keeps records: the values of one iteration and how many iterations in a row loaded
 * exactly those values (lossless run-length encoding, adapter-protocol.md section 6), so it can
 * loop at full speed for seconds and still send back only what changed.
 */
struct reader {
	struct sampler *s;
	pthread_t thread;
	uint64_t *values;                /* records x nloads */
	uint64_t *counts;                /* one per record */
	uint64_t records, capacity;      /* capacity in records */
};

/*
 * Pause between iterations while no vCPU request runs (hot() is 0): the hypervisor cannot update
 * stolen time then (KVM does it on a vCPU's entry), and a reader spinning flat out would take a
 * whole emulated CPU, hence a host CPU, from everything else the slow emulated machine does.
 * Writes the TCK itself makes meanwhile (memory.write) are still sampled, at this pace.
 */
#define COOL_PAUSE_NS 500000

struct sampler {
	int (*hot)(void);
	struct sample_load program[SAMPLER_MAX_LOADS];
	int nloads, nreaders;
	uint64_t max_iterations;
	int stop;                        /* read with acquire by the readers */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int running;                     /* readers that began their first iteration */
	char error[ERR_LEN];
	struct reader readers[SAMPLER_MAX_READERS];
};

/* One load: a single LDAR of the given width (no later load is performed before it). */
static inline uint64_t load(const struct sample_load *l)
{
	if (l->width == 8)
		return __atomic_load_n((const volatile uint64_t *)l->host, __ATOMIC_ACQUIRE);
	return __atomic_load_n((const volatile uint32_t *)l->host, __ATOMIC_ACQUIRE);
}

static int grow(struct reader *r)
{
	struct sampler *s = r->s;
	uint64_t cap = r->capacity ? r->capacity * 2 : 4096;
	if (cap > s->max_iterations)
		cap = s->max_iterations;
	uint64_t *v = realloc(r->values, cap * (uint64_t)s->nloads * sizeof(uint64_t));
	if (!v)
		return -1;
	r->values = v;
	uint64_t *c = realloc(r->counts, cap * sizeof(uint64_t));
	if (!c)
		return -1;
	r->counts = c;
	r->capacity = cap;
	return 0;
}

static void *reader_loop(void *arg)
{
	struct reader *r = arg;
	struct sampler *s = r->s;
	uint64_t now[SAMPLER_MAX_LOADS];
	size_t bytes = (size_t)s->nloads * sizeof(uint64_t);

	/* SCHED_IDLE (best effort): a reader takes only CPU time nobody else wants, so the vCPU threads
	 * and the protocol thread preempt it at once and the emulated machine's two CPUs stay usable */
	struct sched_param idle = { .sched_priority = 0 };
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);

	pthread_mutex_lock(&s->lock);
	s->running++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (;;) {
		/* an iteration that begins after stop was seen started after the TCK's last update */
		int stopping = __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
		for (int i = 0; i < s->nloads; i++)
			now[i] = load(&s->program[i]);
		uint64_t *last = r->records ? r->values + (r->records - 1) * (uint64_t)s->nloads : NULL;
		if (last && memcmp(last, now, bytes) == 0) {
			r->counts[r->records - 1]++;
		} else {
			if (r->records == s->max_iterations)
				break;                    /* as many records as asked for: stop looping */
			if (r->records == r->capacity && grow(r)) {
				pthread_mutex_lock(&s->lock);
				if (!s->error[0])
					fail_msg(s->error, "a sampling reader ran out of memory after %llu records",
						 (unsigned long long)r->records);
				pthread_mutex_unlock(&s->lock);
				break;
			}
			memcpy(r->values + r->records * (uint64_t)s->nloads, now, bytes);
			r->counts[r->records++] = 1;
		}
		if (stopping)
			break;
		if (s->hot && !s->hot()) {
			struct timespec pause = { 0, COOL_PAUSE_NS };
			nanosleep(&pause, NULL);
		}
	}
	return NULL;
}

struct sampler *sampler_start(const struct sample_load *program, int nloads, int readers,
			      uint64_t max_iterations, int (*hot)(void), char *err)
{
	if (nloads < 1 || nloads > SAMPLER_MAX_LOADS) {
		fail_msg(err, "a program of %d loads (1..%d supported)", nloads, SAMPLER_MAX_LOADS);
		return NULL;
	}
	if (readers < 1 || readers > SAMPLER_MAX_READERS) {
		fail_msg(err, "%d readers (1..%d supported)", readers, SAMPLER_MAX_READERS);
		return NULL;
	}
	if (max_iterations < 1) {
		fail_msg(err, "max_iterations must be at least 1");
		return NULL;
	}
	struct sampler *s = calloc(1, sizeof(*s));
	if (!s) {
		fail_msg(err, "out of memory");
		return NULL;
	}
	memcpy(s->program, program, (size_t)nloads * sizeof(*program));
	s->hot = hot;
	s->nloads = nloads;
	s->max_iterations = max_iterations;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	for (int i = 0; i < readers; i++) {
		s->readers[i].s = s;
		int e = pthread_create(&s->readers[i].thread, NULL, reader_loop, &s->readers[i]);
		if (e) {
			sys_fail(err, e, "pthread_create (sampling reader %d)", i);
			sampler_stop(s);
			sampler_free(s);
			return NULL;
		}
		s->nreaders = i + 1;
	}
	pthread_mutex_lock(&s->lock);
	while (s->running < s->nreaders)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return s;
}

void sampler_stop(struct sampler *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < s->nreaders; i++)
		pthread_join(s->readers[i].thread, NULL);
}

int sampler_readers(const struct sampler *s)
{
	return s->nreaders;
}

int sampler_loads(const struct sampler *s)
{
	return s->nloads;
}

const uint64_t *sampler_values(const struct sampler *s, int r, uint64_t *records, const uint64_t **counts)
{
	*records = s->readers[r].records;
	*counts = s->readers[r].counts;
	return s->readers[r].values;
}

const char *sampler_error(const struct sampler *s)
{
	return s->error;
}

void sampler_free(struct sampler *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nreaders; i++) {
		free(s->readers[i].values);
		free(s->readers[i].counts);
	}
	free(s);
}
