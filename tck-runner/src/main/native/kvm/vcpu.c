/*
 * vcpu.c - see vcpu.h. Requests run on the vCPU's own thread; the guest program is the
 * architecture's (arch.h). Signals: WAKE_SIGNAL is blocked in every thread of the adapter, except
 * inside KVM_RUN where KVM_SET_SIGNAL_MASK unblocks it. A tgkill with it therefore ends a KVM_RUN
 * (also one blocked in a guest WFI or HLT) with EINTR, yet is never delivered to a handler: it
 * stays pending once the ioctl returns and is taken off with sigtimedwait.
 */
#define _GNU_SOURCE
#include "vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch.h"

#define VCPU_NICE (-20)               /* unrelated load then rarely delays the vCPU thread */
#define TICK_NS 1000000ull            /* aim: one busy-loop exit per ms of guest time */
#define PREEMPT_TICK_NS 100000ull     /* short ticks while preempted: the release is seen soon */
/*
 * How long the competitor waits before it takes the CPU: the vCPU thread is back in the guest by
 * then, so the competitor's timer interrupt preempts a loaded vCPU at an instruction boundary, as a
 * host's scheduler does. Only then does KVM put the vCPU as preempted (kvm_sched_out: on_rq) and
 * report it (x86: kvm_steal_time_set_preempted, byte 16 = 1, which the next update must clear:
 * X86-PREEMPTED-CLEARED); a competitor woken by the vCPU thread's own submit takes the CPU while
 * that thread is in user space, and KVM reports nothing.
 */
#define PREEMPT_START_AFTER_NS 1000000ull
#define MIN_LOOPS 1000ull
#define MAX_LOOPS 1000000000ull

/* ------------------------------------------------------------------------- the vCPU thread */

static int requests_in_progress;   /* vCPU requests being carried out, all VMs (atomic) */

int vcpu_requests_in_progress(void)
{
	return __atomic_load_n(&requests_in_progress, __ATOMIC_RELAXED);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	pthread_mutex_lock(&v->lock);
	for (;;) {
		while (!v->work_pending && !v->stop)
			pthread_cond_wait(&v->cond, &v->lock);
		if (!v->work_pending)
			break;
		pthread_mutex_unlock(&v->lock);
		v->work_err[0] = '\0';
		__atomic_add_fetch(&requests_in_progress, 1, __ATOMIC_RELAXED);
		int rc = v->work(v, v->work_arg, v->work_err);
		__atomic_sub_fetch(&requests_in_progress, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(&v->lock);
		v->work_rc = rc;
		v->work_pending = 0;
		pthread_cond_broadcast(&v->cond);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

int vcpu_call(struct vcpu *v, int (*work)(struct vcpu *, void *, char *), void *arg, char *err)
{
	pthread_mutex_lock(&v->lock);
	v->work = work;
	v->work_arg = arg;
	v->work_pending = 1;
	pthread_cond_broadcast(&v->cond);
	while (v->work_pending)
		pthread_cond_wait(&v->cond, &v->lock);
	int rc = v->work_rc;
	if (rc < 0 && err)
		memcpy(err, v->work_err, ERR_LEN);
	pthread_mutex_unlock(&v->lock);
	return rc;
}

/* ------------------------------------------------------------------------- entering the guest */

void vcpu_consume_wake_signal(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, WAKE_SIGNAL);
	struct timespec zero = { 0, 0 };
	while (sigtimedwait(&s, NULL, &zero) == WAKE_SIGNAL)
		;
}

int vcpu_enter(struct vcpu *v, char *err)
{
	if (ioctl(v->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR)
			return 1;
		return sys_fail(err, errno, "KVM_RUN on vCPU %d", v->index);
	}
	return v->run->exit_reason == KVM_EXIT_INTR ? 1 : 0;
}

/* One round of the busy loop, loops iterations; its wall time in *ns. */
static int tick(struct vcpu *v, uint64_t loops, uint64_t *ns, char *err)
{
	uint64_t t0 = now_ns();
	if (arch_tick(v, loops, err))
		return -1;
	*ns = now_ns() - t0;
	return 0;
}

static uint64_t clamp_loops(double loops)
{
	if (loops < (double)MIN_LOOPS)
		return MIN_LOOPS;
	if (loops > (double)MAX_LOOPS)
		return MAX_LOOPS;
	return (uint64_t)loops;
}

/*
 * The last calibration of any vCPU (atomic): a new vCPU starts from it, so under an emulated CPU,
 * where every guest entry is slow, opening a VM usually costs one round of three ticks, not eight.
 */
static uint64_t last_loops_per_tick;

/* Finds how many iterations of the busy loop make about TICK_NS per guest entry here. */
static int calibrate(struct vcpu *v, char *err)
{
	uint64_t last = __atomic_load_n(&last_loops_per_tick, __ATOMIC_RELAXED);
	v->loops_per_tick = last ? last : MIN_LOOPS * 10;
	for (int round = 0; round < 8; round++) {
		uint64_t fastest = UINT64_MAX, ns;
		for (int i = 0; i < 3; i++) {
			if (tick(v, v->loops_per_tick, &ns, err))
				return -1;
			fastest = ns < fastest ? ns : fastest;
		}
		if (fastest > TICK_NS / 2 && fastest < TICK_NS * 2)
			break;
		double factor = (double)TICK_NS / (double)(fastest ? fastest : 1);
		factor = factor < 1.0 / 64 ? 1.0 / 64 : factor > 64 ? 64 : factor;
		v->loops_per_tick = clamp_loops((double)v->loops_per_tick * factor);
	}
	__atomic_store_n(&last_loops_per_tick, v->loops_per_tick, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Busy ticks of about tick_ns (at most TICK_NS) until stop(arg) says so (asked after every tick;
 * at least one tick). Full-length ticks retune the calibration, moving by at most 4x per call.
 */
static int busy(struct vcpu *v, uint64_t tick_ns, int (*stop)(void *), void *arg, char *err)
{
	if (tick_ns > TICK_NS)
		tick_ns = TICK_NS;
	uint64_t loops = v->loops_per_tick * tick_ns / TICK_NS;
	uint64_t fastest = UINT64_MAX, ns;
	do {
		if (tick(v, loops ? loops : 1, &ns, err))
			return -1;
		fastest = ns < fastest ? ns : fastest;
	} while (!stop(arg));
	if (tick_ns == TICK_NS) {
		double factor = (double)TICK_NS / (double)(fastest ? fastest : 1);
		factor = factor < 0.25 ? 0.25 : factor > 4.0 ? 4.0 : factor;
		v->loops_per_tick = clamp_loops((double)v->loops_per_tick * factor);
	}
	return 0;
}

/* ------------------------------------------------------------------------- creation */

struct create_args {
	int steal_time_offered;
};

static int create_on_thread(struct vcpu *v, void *arg, char *err)
{
	struct create_args *a = arg;
	v->tid = current_tid();
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(competitor_cpu(v->competitor), &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return sys_fail(err, errno, "pinning vCPU %d's thread to CPU %d", v->index, competitor_cpu(v->competitor));
	setpriority(PRIO_PROCESS, (id_t)v->tid, VCPU_NICE);   /* best effort */

	v->fd = ioctl(v->vm_fd, KVM_CREATE_VCPU, (unsigned long)v->index);
	if (v->fd < 0)
		return sys_fail(err, errno, "KVM_CREATE_VCPU %d", v->index);
	int size = ioctl(v->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < 0)
		return sys_fail(err, errno, "KVM_GET_VCPU_MMAP_SIZE");
	v->run_size = (size_t)size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return sys_fail(err, errno, "mmap kvm_run of vCPU %d", v->index);
	}
	if (arch_vcpu_init(v, a->steal_time_offered, err))
		return -1;

	/* WAKE_SIGNAL is unblocked only inside KVM_RUN */
	sigset_t mask;
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	sigdelset(&mask, WAKE_SIGNAL);
	struct {
		struct kvm_signal_mask head;
		uint8_t sigset[8];     /* the kernel's sigset_t: 64 bits */
	} km;
	km.head.len = 8;
	memcpy(km.sigset, &mask, 8);
	if (ioctl(v->fd, KVM_SET_SIGNAL_MASK, &km))
		return sys_fail(err, errno, "KVM_SET_SIGNAL_MASK vCPU %d", v->index);
	return calibrate(v, err);
}

struct vcpu *vcpu_create(int kvm_fd, int vm_fd, int index, int steal_time_offered,
			 struct competitor *competitor, char *err)
{
	struct vcpu *v = calloc(1, sizeof(*v));
	if (!v) {
		fail_msg(err, "out of memory");
		return NULL;
	}
	v->index = index;
	v->fd = -1;
	v->vm_fd = vm_fd;
	v->kvm_fd = kvm_fd;
	v->competitor = competitor;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	int e = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (e) {
		sys_fail(err, e, "pthread_create (vCPU %d)", index);
		free(v);
		return NULL;
	}
	struct create_args a = { steal_time_offered };
	if (vcpu_call(v, create_on_thread, &a, err) < 0) {
		vcpu_destroy(v);
		return NULL;
	}
	return v;
}

static int close_on_thread(struct vcpu *v, void *arg, char *err)
{
	(void)arg;
	(void)err;
	arch_vcpu_free(v);
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	vcpu_call(v, close_on_thread, NULL, NULL);
	pthread_mutex_lock(&v->lock);
	v->stop = 1;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	pthread_join(v->thread, NULL);
	free(v);
}

int vcpu_tid(const struct vcpu *v)
{
	return v->tid;
}

/* ------------------------------------------------------------------------- workload */

struct workload {
	uint64_t duration_ns;
	uint64_t deadline;
	volatile int released;        /* the competitor let go */
	int tick_after_release;       /* the tick now due begins after the release */
	struct competitor_job job;
	struct vcpu *v;
};

static int past_deadline(void *arg)
{
	struct workload *w = arg;
	return now_ns() >= w->deadline;
}

static int run_on_thread(struct vcpu *v, void *arg, char *err)
{
	struct workload *w = arg;
	w->deadline = now_ns() + w->duration_ns;
	return busy(v, w->duration_ns, past_deadline, w, err);
}

int vcpu_run(struct vcpu *v, uint64_t duration_ns, char *err)
{
	struct workload w = { .duration_ns = duration_ns };
	return vcpu_call(v, run_on_thread, &w, err);
}

static void set_released(void *arg)
{
	struct workload *w = arg;
	__atomic_store_n(&w->released, 1, __ATOMIC_RELEASE);
}

static int is_released(struct workload *w)
{
	return __atomic_load_n(&w->released, __ATOMIC_ACQUIRE);
}

/* Done once a tick that began after the release has run: its entry recorded the steal. */
static int ticked_after_release(void *arg)
{
	struct workload *w = arg;
	if (w->tick_after_release)
		return 1;
	w->tick_after_release = is_released(w);
	return 0;
}

static int preempt_on_thread(struct vcpu *v, void *arg, char *err)
{
	struct workload *w = arg;
	w->job.hold_ns = w->duration_ns;
	w->job.start_after_ns = PREEMPT_START_AFTER_NS;
	w->job.release = set_released;
	w->job.arg = w;
	/* the real-time competitor sleeps PREEMPT_START_AFTER_NS, then takes this CPU while the guest
	 * runs: this thread stays runnable, off the CPU, until the hold is over */
	competitor_submit(v->competitor, &w->job);
	w->tick_after_release = is_released(w);
	int rc = busy(v, PREEMPT_TICK_NS, ticked_after_release, w, err);
	competitor_await(v->competitor, &w->job);
	return rc;
}

int vcpu_preempt(struct vcpu *v, uint64_t duration_ns, char *err)
{
	struct workload w = { .duration_ns = duration_ns, .v = v };
	return vcpu_call(v, preempt_on_thread, &w, err);
}

/* While still holding the CPU: mark the wake-up, then end the vCPU's KVM_RUN with the signal. */
static void wake_vcpu(void *arg)
{
	struct workload *w = arg;
	__atomic_store_n(&w->released, 1, __ATOMIC_RELEASE);
	syscall(SYS_tgkill, getpid(), w->v->tid, WAKE_SIGNAL);
}

static int idle_on_thread(struct vcpu *v, void *arg, char *err)
{
	struct workload *w = arg;
	w->job.hold_ns = w->duration_ns;
	w->job.await_sleep_tid = v->tid;
	w->job.release = wake_vcpu;
	w->job.arg = w;
	if (arch_halt_begin(v, err))
		return -1;
	competitor_submit(v->competitor, &w->job);
	int rc = 0;
	while (!is_released(w)) {
		enum halt_step k = arch_halt_step(v, err);
		if (k == HALT_INTR) {
			vcpu_consume_wake_signal();
		} else if (k == HALT_WOKE) {
			/* the halt ended on its own: wait again unless the wake-up came */
			if (!is_released(w) && arch_halt_begin(v, err)) {
				rc = -1;
				break;
			}
		} else {
			rc = -1;
			break;
		}
	}
	competitor_await(v->competitor, &w->job);
	vcpu_consume_wake_signal();
	if (rc == 0 && arch_halt_end(v, err))
		rc = -1;
	if (rc == 0 && w->job.failed) {
		memcpy(err, w->job.err, ERR_LEN);
		rc = -1;
	}
	return rc;
}

int vcpu_idle(struct vcpu *v, uint64_t duration_ns, char *err)
{
	struct workload w = { .duration_ns = duration_ns, .v = v };
	return vcpu_call(v, idle_on_thread, &w, err);
}
