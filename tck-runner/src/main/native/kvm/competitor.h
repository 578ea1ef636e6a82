/*
 * competitor.h - a thread that takes one CPU away from everyone else on request.
 *
 * Pinned to its CPU and SCHED_FIFO from the start, it sleeps until a vCPU thread pinned to the
 * same CPU hands it a job. A real-time wake-up preempts every SCHED_OTHER thread at once, so the
 * vCPU thread stays runnable but cannot run: its schedstat run_delay grows, which is exactly what
 * KVM/arm64 reports as stolen time (kvm_update_stolen_time reads current->sched_info.run_delay).
 * It counts its own CPU time, not wall time: should it be held up itself, the vCPU thread may run
 * in between, and counting CPU time still keeps it off the CPU for at least the requested total.
 */
#ifndef TCK_COMPETITOR_H
#define TCK_COMPETITOR_H

#include <pthread.h>
#include <stdint.h>

#include "kvm_util.h"

struct competitor_job {
	uint64_t hold_ns;          /* CPU time to spin */
	int await_sleep_tid;       /* > 0: first wait (sleeping) until this thread blocks */
	uint64_t start_after_ns;   /* > 0: first sleep this long, so the hold begins with a timer interrupt
				    * while the vCPU thread, back in KVM_RUN, runs the guest */
	void (*release)(void *);   /* always run at the end, while still holding the CPU */
	void *arg;
	/* filled in by the competitor */
	int done;
	int failed;
	char err[ERR_LEN];
	struct competitor_job *next;
};

struct competitor;

/* Starts the competitor of CPU cpu; NULL with err set when the thread cannot be made real-time. */
struct competitor *competitor_start(int cpu, char *err);
int competitor_cpu(const struct competitor *c);
/* Hands over a job (the caller, on the same CPU, is preempted at once). */
void competitor_submit(struct competitor *c, struct competitor_job *job);
/* Waits until the competitor finished job. */
void competitor_await(struct competitor *c, struct competitor_job *job);
/* Ends the thread once queued jobs are done. */
void competitor_stop(struct competitor *c);

#endif
