/*
 * vcpu.h - one KVM/arm64 vCPU and the thread that owns it.
 *
 * Each vCPU has its own thread: it creates the vCPU and performs every ioctl on it, so KVM_RUN
 * always runs on the same task and that task's schedstat run_delay is the vCPU's (what KVM feeds
 * into stolen time, and what the TCK checks it against). The protocol thread hands it requests
 * and waits for them (vcpu_call).
 */
#ifndef TCK_VCPU_H
#define TCK_VCPU_H

#include <pthread.h>
#include <stdint.h>

#include "competitor.h"
#include "kvm_util.h"

struct vcpu;

/*
 * Creates vCPU index of VM vm_fd on a new thread pinned to the competitor's CPU:
 * KVM_ARM_PREFERRED_TARGET, KVM_ARM_VCPU_INIT with PSCI 0.2, the guest's entry state; then
 * calibrates the guest's busy loop (so the vCPU has run once when this returns).
 */
struct vcpu *vcpu_create(int kvm_fd, int vm_fd, int index, struct competitor *competitor, char *err);
void vcpu_destroy(struct vcpu *v);
int vcpu_tid(const struct vcpu *v);

/*
 * How many vCPU requests (runs, SMCCC calls, attribute calls...) are being carried out right now,
 * in every VM: KVM updates stolen time only while one is (on the vCPU's entry).
 */
int vcpu_requests_in_progress(void);

/* KVM_{HAS,SET,GET}_DEVICE_ATTR on the vCPU fd: 0 or a negative errno (results, not failures). */
int vcpu_has_attr(struct vcpu *v, uint32_t group, uint64_t attr);
int vcpu_set_attr(struct vcpu *v, uint32_t group, uint64_t attr, uint64_t value);
int vcpu_get_attr(struct vcpu *v, uint32_t group, uint64_t attr, uint64_t *value);

/* The guest issues HVC #0 with x0 = function_id, x1..x3 = args; *x0 is x0 afterwards. */
int vcpu_smccc(struct vcpu *v, uint32_t function_id, const uint64_t *args, int nargs, uint64_t *x0, char *err);

/* Workload (see the SPI's Vcpu): -1 with err set on failure. */
int vcpu_run(struct vcpu *v, uint64_t duration_ns, char *err);
int vcpu_preempt(struct vcpu *v, uint64_t duration_ns, char *err);
int vcpu_idle(struct vcpu *v, uint64_t duration_ns, char *err);

#endif
