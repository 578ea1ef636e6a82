/*
 * vcpu.h - one KVM vCPU and the thread that owns it (both architectures).
 *
 * Each vCPU has its own thread: it creates the vCPU and performs every ioctl on it, so KVM_RUN
 * always runs on the same task and that task's schedstat run_delay is the vCPU's (what KVM feeds
 * into steal time, and what the TCK checks it against). The protocol thread hands it requests
 * and waits for them (vcpu_call). The architecture (arch.h) sets the vCPU up and supplies the
 * guest's busy loop and halt; the workload built from them (run, preempt, idle) is common.
 */
#ifndef TCK_VCPU_H
#define TCK_VCPU_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "competitor.h"
#include "kvm_util.h"

/* Ends a vCPU's KVM_RUN: blocked in every thread except inside KVM_RUN (KVM_SET_SIGNAL_MASK). */
#define WAKE_SIGNAL SIGUSR1

struct arch_vcpu;

struct vcpu {
	int index, fd, tid, vm_fd, kvm_fd;
	struct kvm_run *run;
	size_t run_size;
	struct competitor *competitor;
	uint64_t loops_per_tick;      /* busy-loop iterations that make about TICK_NS per entry */
	struct arch_vcpu *arch;       /* the architecture's state (arch_vcpu_init) */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int (*work)(struct vcpu *, void *, char *);
	void *work_arg;
	int work_rc, work_pending, stop;
	char work_err[ERR_LEN];
};

/*
 * Creates vCPU index of VM vm_fd on a new thread pinned to the competitor's CPU, set up by the
 * architecture; then calibrates the guest's busy loop (so the vCPU has run when this returns).
 */
struct vcpu *vcpu_create(int kvm_fd, int vm_fd, int index, int steal_time_offered,
			 struct competitor *competitor, char *err);
void vcpu_destroy(struct vcpu *v);
int vcpu_tid(const struct vcpu *v);

/* Runs work(v, arg, err) on the vCPU's thread and waits for it; its return value. */
int vcpu_call(struct vcpu *v, int (*work)(struct vcpu *, void *, char *), void *arg, char *err);

/*
 * How many vCPU requests (runs, guest calls, attribute calls...) are being carried out right now,
 * in every VM: KVM updates steal time only while one is (on the vCPU's entry).
 */
int vcpu_requests_in_progress(void);

/* One KVM_RUN: 1 when a signal ended it (EINTR or KVM_EXIT_INTR), 0 on an exit to decode, -1 (err). */
int vcpu_enter(struct vcpu *v, char *err);
/* Takes a pending WAKE_SIGNAL off (it is never delivered to a handler). */
void vcpu_consume_wake_signal(void);

/* Workload (see the SPI's Vcpu): -1 with err set on failure. */
int vcpu_run(struct vcpu *v, uint64_t duration_ns, char *err);
int vcpu_preempt(struct vcpu *v, uint64_t duration_ns, char *err);
int vcpu_idle(struct vcpu *v, uint64_t duration_ns, char *err);

#endif
