/*
 * competitor.c - see competitor.h.
 */
#define _GNU_SOURCE
#include "competitor.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Above every SCHED_OTHER thread, below the kernel's own real-time threads (migration: 99). */
#define FIFO_PRIORITY 10
/* First sleep outlasts KVM's halt polling, so a vCPU going straight into WFI is usually blocked. */
#define FIRST_SLEEP_NS 600000
#define SLEEP_POLL_NS 50000
#define SLEEP_TIMEOUT_NS 2000000000ull

struct competitor {
	int cpu;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;       /* a job arrived or stop was asked */
	pthread_cond_t finished;   /* a job is done */
	struct competitor_job *head, *tail;
	int stopping;
	int started;
	int start_errno;
	char start_err[ERR_LEN];
};

static void sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void perform(struct competitor_job *job)
{
	if (job->start_after_ns)
		sleep_ns((long)job->start_after_ns);
	if (job->await_sleep_tid > 0) {
		uint64_t deadline = now_ns() + SLEEP_TIMEOUT_NS;
		sleep_ns(FIRST_SLEEP_NS);
		while (thread_state(job->await_sleep_tid) != 'S') {
			if (now_ns() > deadline) {
				job->failed = 1;
				fail_msg(job->err, "vCPU thread %d did not block in the guest's halt (WFI, HLT) within 2 s (state %c)",
					 job->await_sleep_tid, thread_state(job->await_sleep_tid));
				break;
			}
			sleep_ns(SLEEP_POLL_NS);
		}
	}
	if (!job->failed) {
		uint64_t cpu0 = thread_cpu_ns();
		while (thread_cpu_ns() - cpu0 < job->hold_ns)
			cpu_relax();
	}
	if (job->release)
		job->release(job->arg);
}

static void *loop(void *arg)
{
	struct competitor *c = arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(c->cpu, &set);
	struct sched_param sp = { .sched_priority = FIFO_PRIORITY };
	int e = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (e)
		sys_fail(c->start_err, e, "pinning the competitor to CPU %d", c->cpu);
	else if ((e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp)))
		sys_fail(c->start_err, e, "making the competitor of CPU %d SCHED_FIFO", c->cpu);
	pthread_mutex_lock(&c->lock);
	c->started = 1;
	c->start_errno = e;
	pthread_cond_broadcast(&c->finished);
	while (!e) {
		struct competitor_job *job = c->head;
		if (!job) {
			if (c->stopping)
				break;
			pthread_cond_wait(&c->wake, &c->lock);
			continue;
		}
		c->head = job->next;
		if (!c->head)
			c->tail = NULL;
		pthread_mutex_unlock(&c->lock);
		perform(job);
		pthread_mutex_lock(&c->lock);
		job->done = 1;
		pthread_cond_broadcast(&c->finished);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct competitor *competitor_start(int cpu, char *err)
{
	struct competitor *c = calloc(1, sizeof(*c));
	if (!c) {
		fail_msg(err, "out of memory");
		return NULL;
	}
	c->cpu = cpu;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	pthread_cond_init(&c->finished, NULL);
	int e = pthread_create(&c->thread, NULL, loop, c);
	if (e) {
		sys_fail(err, e, "pthread_create (competitor of CPU %d)", cpu);
		free(c);
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->started)
		pthread_cond_wait(&c->finished, &c->lock);
	pthread_mutex_unlock(&c->lock);
	if (c->start_errno) {
		strcpy(err, c->start_err);
		pthread_join(c->thread, NULL);
		free(c);
		return NULL;
	}
	return c;
}

int competitor_cpu(const struct competitor *c)
{
	return c->cpu;
}

void competitor_submit(struct competitor *c, struct competitor_job *job)
{
	job->done = 0;
	job->failed = 0;
	job->err[0] = '\0';
	job->next = NULL;
	pthread_mutex_lock(&c->lock);
	if (c->tail)
		c->tail->next = job;
	else
		c->head = job;
	c->tail = job;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
}

void competitor_await(struct competitor *c, struct competitor_job *job)
{
	pthread_mutex_lock(&c->lock);
	while (!job->done)
		pthread_cond_wait(&c->finished, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void competitor_stop(struct competitor *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	free(c);
}
