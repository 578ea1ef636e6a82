/*
 * sampler.h - the protocol's sampling session (adapter-protocol.md section 6): reader threads
 * next to guest RAM repeat a short program of single, naturally aligned, acquire loads (LDAR)
 * and record the raw values. The adapter never judges them; the TCK does.
 */
#ifndef TCK_SAMPLER_H
#define TCK_SAMPLER_H

#include <stdint.h>

#include "kvm_util.h"

#define SAMPLER_MAX_READERS 64
#define SAMPLER_MAX_LOADS 16

struct sample_load {
	const volatile void *host;    /* where in the adapter's mapping of guest RAM */
	int width;                    /* 4 or 8 */
};

struct sampler;

/*
 * Starts the readers; returns once each has begun its first iteration. A reader keeps at most
 * max_records records (see sampler.c). It loads back to back while hot() is nonzero, and about
 * every COOL_PAUSE_NS otherwise (hot may be NULL: always hot). NULL with err set.
 */
struct sampler *sampler_start(const struct sample_load *program, int nloads, int readers,
			      uint64_t max_records, int (*hot)(void), char *err);

/* Stops the readers (each finishes its iteration in progress) and waits for them. */
void sampler_stop(struct sampler *s);

int sampler_readers(const struct sampler *s);
int sampler_loads(const struct sampler *s);
/*
 * What reader r recorded: *records records of nloads values each (program order), and per record
 * the number of iterations in a row that loaded exactly those values.
 */
const uint64_t *sampler_values(const struct sampler *s, int r, uint64_t *records, const uint64_t **counts);
/* Non-empty when a reader ran out of memory (its recording stopped there). */
const char *sampler_error(const struct sampler *s);

void sampler_free(struct sampler *s);

#endif
