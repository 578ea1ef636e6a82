/*
 * arch.h - what each architecture supplies to the common adapter (arch-arm64-*.c, arch-x86_64-*.c;
 * prepare.sh builds the common files with one architecture's). The common part has the protocol,
 * JSON, sampling, the competitor, VM and memory plumbing, the vCPU threads and the workload
 * (run/preempt/idle built from the guest's busy loop and halt); an architecture has its vCPU
 * set-up, its guest program, and its own protocol methods (x86.* or arm64.*).
 */
#ifndef TCK_ARCH_H
#define TCK_ARCH_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;
struct jbuf;

/* Identity in the handshake: provider id, description, the SPI's Architecture name. */
extern const char arch_provider_id[];
extern const char arch_description[];
extern const char arch_name[];

/* Once /dev/kvm is open: can this kernel's KVM be tested (PV time there)? 0, or -1 with err set. */
int arch_global_init(int kvm_fd, char *err);

/* The handshake's "capabilities" array, e.g. ["MULTI_VCPU",...] (members after "capabilities":). */
void arch_capabilities(struct jbuf *out);

/* NULL when a VM with or without steal time can be built, else why not (answered as unsupported). */
/* What the guest is offered (open's steal_time_offered and only_steal_time): steal time withheld (and
 * enforced), offered with the hypervisor's other paravirtual features, or offered alone (the others
 * withheld, enforced). The int steal_time_offered of the functions below is one of these. */
#define STEAL_WITHHELD 0
#define STEAL_OFFERED 1
#define STEAL_ALONE 2

const char *arch_open_refusal(int steal_time_offered);

/* After KVM_CREATE_VM and the memory slots: VM-wide set-up and the guest program in RAM. */
int arch_vm_init(struct vm *vm, char *err);

/* On the vCPU's thread, once its fd and kvm_run exist: registers, CPUID or target, PV time. */
int arch_vcpu_init(struct vcpu *v, int steal_time_offered, char *err);
void arch_vcpu_free(struct vcpu *v);

/* One round of the guest's busy loop (loops iterations): one guest entry. */
int arch_tick(struct vcpu *v, uint64_t loops, char *err);

/* The guest halts (WFI / HLT): the vCPU thread blocks in KVM_RUN until a signal or an interrupt. */
enum halt_step { HALT_INTR, HALT_WOKE, HALT_ERROR };
int arch_halt_begin(struct vcpu *v, char *err);
enum halt_step arch_halt_step(struct vcpu *v, char *err);
int arch_halt_end(struct vcpu *v, char *err);

/* The architecture's protocol methods (arch_methods, arch_nmethods) are declared in protocol.h. */

#endif
