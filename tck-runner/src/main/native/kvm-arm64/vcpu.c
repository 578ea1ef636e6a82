/*
 * vcpu.c - see vcpu.h. Requests run on the vCPU's own thread; the guest is the command loop of
 * guest.h. Signals: WAKE_SIGNAL is blocked in every thread of the adapter, except inside KVM_RUN
 * where KVM_SET_SIGNAL_MASK unblocks it. A tgkill with it therefore ends a KVM_RUN (also one
 * blocked in a guest WFI) with EINTR, yet is never delivered to a handler: it stays pending once
 * the ioctl returns and is taken off with sigtimedwait.
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

#include "guest.h"

#define WAKE_SIGNAL SIGUSR1
#define VCPU_NICE (-20)               /* unrelated load then rarely delays the vCPU thread */
#define TICK_NS 1000000ull            /* aim: one busy-loop exit per ms of guest time */
#define PREEMPT_TICK_NS 100000ull     /* short ticks while preempted: the release is seen soon */
#define MIN_LOOPS 1000ull
#define MAX_LOOPS 1000000000ull

#define CORE_REG(x) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(x))
#define REG_X(n) CORE_REG(regs.regs[n])
#define REG_PC CORE_REG(regs.pc)
#define REG_VBAR_EL1 ARM64_SYS_REG(3, 0, 12, 0, 0)

/* What one KVM_RUN ended with. */
enum exit_kind { EXIT_ERROR = -1, EXIT_CMD_READ, EXIT_INTR };

struct vcpu {
	int index, fd, tid, vm_fd, kvm_fd;
	struct kvm_run *run;
	size_t run_size;
	struct competitor *competitor;
	uint64_t loops_per_tick;      /* busy-loop iterations that make about TICK_NS per entry */
	int at_cmd;                   /* stopped at the guest's command read, the answer owed */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int (*work)(struct vcpu *, void *, char *);
	void *work_arg;
	int work_rc, work_pending, stop;
	char work_err[ERR_LEN];
};

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

/* Runs work on the vCPU thread and waits for it. */
static int vcpu_call(struct vcpu *v, int (*work)(struct vcpu *, void *, char *), void *arg, char *err)
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

/* ------------------------------------------------------------------------- registers */

static int set_reg(struct vcpu *v, uint64_t id, uint64_t value, const char *name, char *err)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)&value };
	if (ioctl(v->fd, KVM_SET_ONE_REG, &r))
		return sys_fail(err, errno, "KVM_SET_ONE_REG %s on vCPU %d", name, v->index);
	return 0;
}

static uint64_t get_reg_or_zero(struct vcpu *v, uint64_t id)
{
	uint64_t value = 0;
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)&value };
	if (ioctl(v->fd, KVM_GET_ONE_REG, &r))
		return 0;
	return value;
}

/* ------------------------------------------------------------------------- running the guest */

static void consume_wake_signal(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, WAKE_SIGNAL);
	struct timespec zero = { 0, 0 };
	while (sigtimedwait(&s, NULL, &zero) == WAKE_SIGNAL)
		;
}

/* One KVM_RUN: the guest asks for its next command, or a signal ended the run. */
static enum exit_kind run_once(struct vcpu *v, char *err)
{
	if (ioctl(v->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR)
			return EXIT_INTR;
		sys_fail(err, errno, "KVM_RUN on vCPU %d", v->index);
		return EXIT_ERROR;
	}
	struct kvm_run *r = v->run;
	if (r->exit_reason == KVM_EXIT_INTR)
		return EXIT_INTR;
	if (r->exit_reason == KVM_EXIT_MMIO && r->mmio.len == 8) {
		uint64_t off = r->mmio.phys_addr - GUEST_MMIO, value;
		memcpy(&value, r->mmio.data, 8);
		if (!r->mmio.is_write && off == GUEST_MMIO_CMD)
			return EXIT_CMD_READ;
		if (r->mmio.is_write && off == GUEST_MMIO_EXCEPTION) {
			fail_msg(err, "vCPU %d: the guest took an exception, ESR_EL1 0x%llx, ELR_EL1 0x%llx",
				 v->index, (unsigned long long)value,
				 (unsigned long long)get_reg_or_zero(v, ARM64_SYS_REG(3, 0, 4, 0, 1)));
			return EXIT_ERROR;
		}
		if (r->mmio.is_write && off == GUEST_MMIO_BAD_CMD) {
			fail_msg(err, "vCPU %d: the guest did not know command %llu", v->index, (unsigned long long)value);
			return EXIT_ERROR;
		}
	}
	fail_msg(err, "vCPU %d: unexpected exit_reason %u at PC 0x%llx (mmio 0x%llx len %u write %u)",
		 v->index, r->exit_reason, (unsigned long long)get_reg_or_zero(v, REG_PC),
		 (unsigned long long)r->mmio.phys_addr, r->mmio.len, r->mmio.is_write);
	return EXIT_ERROR;
}

/* Runs until the guest waits for its next command (a signal just re-enters). */
static int reach_command(struct vcpu *v, char *err)
{
	while (!v->at_cmd) {
		switch (run_once(v, err)) {
		case EXIT_CMD_READ: v->at_cmd = 1; break;
		case EXIT_INTR: consume_wake_signal(); break;
		default: return -1;
		}
	}
	return 0;
}

/* Answers the guest's command read with op; the next KVM_RUN carries it out. */
static void command(struct vcpu *v, uint64_t op)
{
	memcpy(v->run->mmio.data, &op, 8);
	v->at_cmd = 0;
}

/* Carries out op (operands already in the registers): one guest entry, back at the command read. */
static int perform(struct vcpu *v, uint64_t op, char *err)
{
	if (reach_command(v, err))
		return -1;
	command(v, op);
	return reach_command(v, err);
}

/* One round of the guest's busy loop, loops iterations; its wall time in *ns. */
static int tick(struct vcpu *v, uint64_t loops, uint64_t *ns, char *err)
{
	if (reach_command(v, err) || set_reg(v, REG_X(1), loops, "x1", err))
		return -1;
	uint64_t t0 = now_ns();
	if (perform(v, GUEST_OP_BUSY, err))
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

/* Finds how many iterations of the busy loop make about TICK_NS per guest entry here. */
static int calibrate(struct vcpu *v, char *err)
{
	v->loops_per_tick = MIN_LOOPS * 10;
	for (int round = 0; round < 8; round++) {
		uint64_t fastest = UINT64_MAX, ns;
		for (int i = 0; i < 3; i++) {
			if (tick(v, v->loops_per_tick, &ns, err))
				return -1;
			fastest = ns < fastest ? ns : fastest;
		}
		if (fastest > TICK_NS / 2 && fastest < TICK_NS * 2)
			return 0;
		double factor = (double)TICK_NS / (double)(fastest ? fastest : 1);
		factor = factor < 1.0 / 64 ? 1.0 / 64 : factor > 64 ? 64 : factor;
		v->loops_per_tick = clamp_loops((double)v->loops_per_tick * factor);
	}
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
	int index;
};

static int create_on_thread(struct vcpu *v, void *arg, char *err)
{
	(void)arg;
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

	struct kvm_vcpu_init init;
	memset(&init, 0, sizeof(init));
	if (ioctl(v->vm_fd, KVM_ARM_PREFERRED_TARGET, &init))
		return sys_fail(err, errno, "KVM_ARM_PREFERRED_TARGET");
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init))
		return sys_fail(err, errno, "KVM_ARM_VCPU_INIT vCPU %d (target %u, PSCI 0.2)", v->index, init.target);

	/* reset state: EL1h, MMU off, DAIF masked; start at the command loop */
	if (set_reg(v, REG_PC, GUEST_CODE_IPA, "pc", err)
	    || set_reg(v, REG_VBAR_EL1, GUEST_VECTORS, "VBAR_EL1", err))
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

struct vcpu *vcpu_create(int kvm_fd, int vm_fd, int index, struct competitor *competitor, char *err)
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
	if (vcpu_call(v, create_on_thread, NULL, err) < 0) {
		vcpu_destroy(v);
		return NULL;
	}
	return v;
}

static int close_on_thread(struct vcpu *v, void *arg, char *err)
{
	(void)arg;
	(void)err;
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

/* ------------------------------------------------------------------------- device attributes */

struct attr_args {
	unsigned long request;
	struct kvm_device_attr attr;
	int result;
};

static int attr_on_thread(struct vcpu *v, void *arg, char *err)
{
	(void)err;
	struct attr_args *a = arg;
	a->result = ioctl(v->fd, a->request, &a->attr) == 0 ? 0 : -errno;
	return 0;
}

static int attr_call(struct vcpu *v, unsigned long request, uint32_t group, uint64_t attr, uint64_t *value)
{
	struct attr_args a = { request, { .group = group, .attr = attr, .addr = (uintptr_t)value }, 0 };
	vcpu_call(v, attr_on_thread, &a, NULL);
	return a.result;
}

int vcpu_has_attr(struct vcpu *v, uint32_t group, uint64_t attr)
{
	return attr_call(v, KVM_HAS_DEVICE_ATTR, group, attr, NULL);
}

int vcpu_set_attr(struct vcpu *v, uint32_t group, uint64_t attr, uint64_t value)
{
	return attr_call(v, KVM_SET_DEVICE_ATTR, group, attr, &value);
}

int vcpu_get_attr(struct vcpu *v, uint32_t group, uint64_t attr, uint64_t *value)
{
	return attr_call(v, KVM_GET_DEVICE_ATTR, group, attr, value);
}

/* ------------------------------------------------------------------------- SMCCC */

struct smccc_args {
	uint64_t regs[4];
	uint64_t x0;
};

static int smccc_on_thread(struct vcpu *v, void *arg, char *err)
{
	struct smccc_args *a = arg;
	if (reach_command(v, err))
		return -1;
	for (int i = 0; i < 4; i++) {
		char name[4] = { 'x', (char)('0' + i), 0, 0 };
		if (set_reg(v, REG_X(i), a->regs[i], name, err))
			return -1;
	}
	if (perform(v, GUEST_OP_SMCCC, err))
		return -1;
	struct kvm_one_reg r = { .id = REG_X(0), .addr = (uintptr_t)&a->x0 };
	if (ioctl(v->fd, KVM_GET_ONE_REG, &r))
		return sys_fail(err, errno, "KVM_GET_ONE_REG x0 on vCPU %d", v->index);
	return 0;
}

int vcpu_smccc(struct vcpu *v, uint32_t function_id, const uint64_t *args, int nargs, uint64_t *x0, char *err)
{
	if (nargs > 3)
		return fail_msg(err, "the guest passes at most 3 SMCCC arguments (x1..x3), asked for %d", nargs);
	struct smccc_args a = { { function_id, 0, 0, 0 }, 0 };
	for (int i = 0; i < nargs; i++)
		a.regs[i + 1] = args[i];
	if (vcpu_call(v, smccc_on_thread, &a, err))
		return -1;
	*x0 = a.x0;
	return 0;
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

/* Done once a tick that began after the release has run: its entry recorded the stolen time. */
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
	w->job.release = set_released;
	w->job.arg = w;
	if (reach_command(v, err))
		return -1;
	/* the real-time competitor takes this CPU at once: this thread stays runnable, off the CPU,
	 * and usually comes back here only once the hold is over */
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
	if (reach_command(v, err))
		return -1;
	command(v, GUEST_OP_WFI);
	competitor_submit(v->competitor, &w->job);
	int rc = 0;
	while (!is_released(w)) {
		enum exit_kind k = run_once(v, err);
		if (k == EXIT_INTR) {
			consume_wake_signal();
		} else if (k == EXIT_CMD_READ) {
			/* WFI returned on its own: wait again unless the wake-up came */
			v->at_cmd = 1;
			if (!is_released(w))
				command(v, GUEST_OP_WFI);
		} else {
			rc = -1;
			break;
		}
	}
	competitor_await(v->competitor, &w->job);
	consume_wake_signal();
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
