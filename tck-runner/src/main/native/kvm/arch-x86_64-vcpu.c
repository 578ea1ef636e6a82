/*
 * arch-x86_64-vcpu.c - KVM/x86 (arch.h): VMs with an in-kernel irqchip, vCPUs in real mode with
 * the CPUID KVM supports (KVM_FEATURE_STEAL_TIME set, or withheld together with
 * KVM_CAP_ENFORCE_PV_FEATURE_CPUID so that the MSR faults), the guest program of
 * arch-x86_64-guest.h, and the protocol methods x86.* (guest WRMSR/RDMSR/CPUID, the host's
 * KVM_SET_MSRS / KVM_GET_MSRS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch.h"
#include "arch-x86_64-guest.h"
#include "json.h"
#include "protocol.h"
#include "vcpu.h"
#include "vm.h"

#define KVM_CPUID_FEATURES_LEAF 0x40000001u
#define KVM_FEATURE_STEAL_TIME_BIT (1u << 5)
/* Where Intel VMX without unrestricted guest keeps its real-mode TSS (3 pages); unused on AMD. */
#define TSS_ADDR 0xfffbd000ull
#define TSS_SIZE (3 * 4096ull)
#define MAX_CPUID_ENTRIES 8192

/* The provider this build serves: kvm-x86-emulated inside the emulated machine, kvm on the host's
 * /dev/kvm (the kvm provider builds it with -DPROVIDER_ID='"kvm"' and its own TOLERANCE_NS). */
#ifndef PROVIDER_ID
#define PROVIDER_ID "kvm-x86-emulated"
#endif
const char arch_provider_id[] = PROVIDER_ID;
const char arch_description[] = "Linux KVM/x86 through /dev/kvm (C adapter tck-kvm)";
const char arch_name[] = "X86_64";

static struct kvm_cpuid2 *supported;      /* KVM_GET_SUPPORTED_CPUID */
static int can_withhold;                  /* KVM_CAP_ENFORCE_PV_FEATURE_CPUID */

struct arch_vcpu {
	int unused;
};

int arch_global_init(int kvm_fd, char *err)
{
	for (int n = 128; n <= MAX_CPUID_ENTRIES; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)n * sizeof(struct kvm_cpuid_entry2));
		if (!c)
			return fail_msg(err, "out of memory");
		c->nent = (uint32_t)n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			supported = c;
			break;
		}
		int e = errno;
		free(c);
		if (e != E2BIG)
			return sys_fail(err, e, "KVM_GET_SUPPORTED_CPUID");
	}
	if (!supported)
		return fail_msg(err, "KVM_GET_SUPPORTED_CPUID: more than %d entries", MAX_CPUID_ENTRIES);
	int found = 0;
	for (uint32_t i = 0; i < supported->nent; i++) {
		struct kvm_cpuid_entry2 *e = &supported->entries[i];
		if (e->function == KVM_CPUID_FEATURES_LEAF) {
			found = 1;
			if (!(e->eax & KVM_FEATURE_STEAL_TIME_BIT))
				return fail_msg(err, "KVM offers no steal time here (KVM_GET_SUPPORTED_CPUID leaf 0x40000001 "
						"EAX 0x%x: KVM_FEATURE_STEAL_TIME, bit 5, clear)", e->eax);
		}
	}
	if (!found)
		return fail_msg(err, "KVM_GET_SUPPORTED_CPUID has no KVM feature leaf 0x40000001 (no steal time)");
	can_withhold = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ENFORCE_PV_FEATURE_CPUID) > 0;
	return 0;
}

void arch_capabilities(struct jbuf *out)
{
	jb_lit(out, "[\"MULTI_VCPU\",\"MEMORY_HOLES\",\"HIGH_MEMORY\",\"HOST_MSR_ACCESS\",\"DIRTY_LOG\",\"MOVABLE_MEMORY\"");
	if (can_withhold)
		jb_lit(out, ",\"WITHHOLD_STEAL_TIME\",\"STEAL_TIME_ALONE\"");
	jb_lit(out, "]");
}

const char *arch_open_refusal(int steal_time_offered)
{
	if (steal_time_offered == STEAL_OFFERED || can_withhold)
		return NULL;
	return steal_time_offered == STEAL_ALONE
		? "this KVM cannot withhold its other paravirtual features (no KVM_CAP_ENFORCE_PV_FEATURE_CPUID)"
		: "this KVM cannot withhold steal time (no KVM_CAP_ENFORCE_PV_FEATURE_CPUID)";
}

int arch_vm_init(struct vm *vm, char *err)
{
	int overlaps = 0;
	for (int i = 0; i < vm->nregions; i++)
		if (vm->regions[i].gpa < TSS_ADDR + TSS_SIZE && TSS_ADDR < vm->regions[i].gpa + vm->regions[i].size)
			overlaps = 1;
	if (!overlaps && ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0
	    && ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)TSS_ADDR))
		return sys_fail(err, errno, "KVM_SET_TSS_ADDR");
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0))
		return sys_fail(err, errno, "KVM_CREATE_IRQCHIP");

	uint8_t *at = vm_ram(vm, 0, GUEST_END);
	if (!at)
		return fail_msg(err, "guest RAM must cover [0, 0x%x) for the adapter's guest program", GUEST_END);
	size_t code = (size_t)(guest_x86_end - guest_x86_start);
	if (code == 0 || code > GUEST_STACK_FLOOR - GUEST_CODE)
		return fail_msg(err, "guest program has an unexpected size (%zu bytes)", code);
	memset(at, 0, GUEST_END);
	for (int vector = 0; vector < 256; vector++) {
		uint16_t handler = (uint16_t)(GUEST_CODE + (vector == VECTOR_GP ? ENTRY_GP
					: vector < 32 ? ENTRY_EXCEPTIONS + vector * 8 : ENTRY_SPURIOUS));
		uint16_t segment = 0;
		memcpy(at + GUEST_IVT + vector * 4, &handler, 2);
		memcpy(at + GUEST_IVT + vector * 4 + 2, &segment, 2);
	}
	memcpy(at + GUEST_CODE, guest_x86_start, code);
	return 0;
}

/* ------------------------------------------------------------------------- running the guest */

/* Loads the registers of a fresh request at entry (real mode, IF = 0, the vCPU's own stack). */
static int start(struct vcpu *v, unsigned entry, uint64_t rax, uint64_t rbx, uint64_t rcx, uint64_t rdx, char *err)
{
	struct kvm_regs r;
	memset(&r, 0, sizeof(r));
	r.rax = rax;
	r.rbx = rbx;
	r.rcx = rcx;
	r.rdx = rdx;
	r.rsp = GUEST_STACK_TOP - (uint64_t)v->index * GUEST_STACK_SIZE;
	r.rip = GUEST_CODE + entry;
	r.rflags = 0x2;                /* bit 1 is always set; IF = 0 */
	if (ioctl(v->fd, KVM_SET_REGS, &r))
		return sys_fail(err, errno, "KVM_SET_REGS on vCPU %d", v->index);
	return 0;
}

static const char *exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_IO: return "KVM_EXIT_IO";
	case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
	case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
	case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN (triple fault)";
	case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
	default: return "exit";
	}
}

/* After one KVM_RUN that was not interrupted: the port of the guest's OUT, or -1 (err). */
static int reported_port(struct vcpu *v, const char *during, char *err)
{
	struct kvm_run *r = v->run;
	if (r->exit_reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_OUT) {
		if (r->io.port != PORT_EXCEPTION)
			return r->io.port;
		uint8_t vector = *((uint8_t *)r + r->io.data_offset);
		return fail_msg(err, "vCPU %d: the guest took exception vector %u during %s", v->index, vector, during);
	}
	struct kvm_regs regs;
	memset(&regs, 0, sizeof(regs));
	ioctl(v->fd, KVM_GET_REGS, &regs);
	unsigned long long detail = r->exit_reason == KVM_EXIT_FAIL_ENTRY ? r->fail_entry.hardware_entry_failure_reason
				    : r->exit_reason == KVM_EXIT_INTERNAL_ERROR ? r->internal.suberror : 0;
	return fail_msg(err, "vCPU %d: unexpected %s (%u) at RIP 0x%llx during %s (detail 0x%llx)", v->index,
			exit_name(r->exit_reason), r->exit_reason, (unsigned long long)regs.rip, during, detail);
}

/* Runs until the guest reports through an OUT; a signal (a stale wake-up) just re-enters. */
static int run_to_report(struct vcpu *v, const char *during, char *err)
{
	for (;;) {
		int rc = vcpu_enter(v, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return reported_port(v, during, err);
		vcpu_consume_wake_signal();
	}
}

static int unexpected(struct vcpu *v, int port, const char *during, char *err)
{
	return fail_msg(err, "vCPU %d: unexpected guest OUT to port 0x%x during %s", v->index, port, during);
}

int arch_tick(struct vcpu *v, uint64_t loops, char *err)
{
	if (start(v, ENTRY_BUSY, 0, loops, 0, 0, err))
		return -1;
	int port = run_to_report(v, "the busy loop", err);
	if (port < 0)
		return -1;
	return port == PORT_TICK ? 0 : unexpected(v, port, "the busy loop", err);
}

int arch_halt_begin(struct vcpu *v, char *err)
{
	return start(v, ENTRY_HALT, 0, 0, 0, 0, err);
}

enum halt_step arch_halt_step(struct vcpu *v, char *err)
{
	int rc = vcpu_enter(v, err);
	if (rc < 0)
		return HALT_ERROR;
	if (rc > 0)
		return HALT_INTR;
	int port = reported_port(v, "HLT", err);
	if (port == PORT_WOKE)
		return HALT_WOKE;
	if (port >= 0)
		unexpected(v, port, "HLT", err);
	return HALT_ERROR;
}

static int set_runnable(struct vcpu *v, char *err)
{
	struct kvm_mp_state mp = { KVM_MP_STATE_RUNNABLE };
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp))
		return sys_fail(err, errno, "KVM_SET_MP_STATE RUNNABLE on vCPU %d", v->index);
	return 0;
}

int arch_halt_end(struct vcpu *v, char *err)
{
	return set_runnable(v, err);   /* KVM still has the vCPU halted; the next request must run */
}

/* ------------------------------------------------------------------------- creation */

int arch_vcpu_init(struct vcpu *v, int steal_time_offered, char *err)
{
	v->arch = calloc(1, sizeof(*v->arch));
	if (!v->arch)
		return fail_msg(err, "out of memory");
	if ((GUEST_STACK_TOP - GUEST_STACK_FLOOR) / GUEST_STACK_SIZE <= v->index)
		return fail_msg(err, "vCPU %d: the guest program has stacks for %d vCPUs", v->index,
				(GUEST_STACK_TOP - GUEST_STACK_FLOOR) / GUEST_STACK_SIZE);
	size_t size = sizeof(*supported) + supported->nent * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(size);
	if (!c)
		return fail_msg(err, "out of memory");
	memcpy(c, supported, size);
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == KVM_CPUID_FEATURES_LEAF)
			c->entries[i].eax = steal_time_offered == STEAL_ALONE ? KVM_FEATURE_STEAL_TIME_BIT
					  : steal_time_offered == STEAL_OFFERED ? c->entries[i].eax | KVM_FEATURE_STEAL_TIME_BIT
					  : c->entries[i].eax & ~KVM_FEATURE_STEAL_TIME_BIT;
	int rc = ioctl(v->fd, KVM_SET_CPUID2, c);
	int e = errno;
	free(c);
	if (rc)
		return sys_fail(err, e, "KVM_SET_CPUID2 on vCPU %d", v->index);
	if (steal_time_offered != STEAL_OFFERED) {     /* what is withheld is enforced */
		struct kvm_enable_cap cap;
		memset(&cap, 0, sizeof(cap));
		cap.cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID;
		cap.args[0] = 1;
		if (ioctl(v->fd, KVM_ENABLE_CAP, &cap))
			return sys_fail(err, errno, "KVM_ENABLE_CAP KVM_CAP_ENFORCE_PV_FEATURE_CPUID on vCPU %d", v->index);
	}
	/* the reset state has CS base 0xffff0000; the guest program lives at segment 0 */
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_SREGS, &s))
		return sys_fail(err, errno, "KVM_GET_SREGS on vCPU %d", v->index);
	s.cs.base = 0;
	s.cs.selector = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &s))
		return sys_fail(err, errno, "KVM_SET_SREGS on vCPU %d", v->index);
	return set_runnable(v, err);   /* application processors start "uninitialized" */
}

void arch_vcpu_free(struct vcpu *v)
{
	free(v->arch);
	v->arch = NULL;
}

/* ------------------------------------------------------------------------- guest and host MSRs, CPUID */

struct x86_request {
	unsigned entry;
	uint32_t msr;
	uint64_t value;
	int faulted;
	struct kvm_regs out;
	int accepted;
};

static int guest_on_thread(struct vcpu *v, void *arg, char *err)
{
	struct x86_request *q = arg;
	const char *what = q->entry == ENTRY_WRMSR ? "WRMSR" : q->entry == ENTRY_RDMSR ? "RDMSR" : "CPUID";
	uint64_t rax = q->entry == ENTRY_CPUID ? q->value : q->value & 0xffffffffull;
	if (start(v, q->entry, rax, 0, q->msr, q->value >> 32, err))
		return -1;
	int port = run_to_report(v, what, err);
	if (port < 0)
		return -1;
	if (port == PORT_GP && q->entry != ENTRY_CPUID) {
		q->faulted = 1;
		return 0;
	}
	if (port != PORT_DONE)
		return unexpected(v, port, what, err);
	if (ioctl(v->fd, KVM_GET_REGS, &q->out))
		return sys_fail(err, errno, "KVM_GET_REGS on vCPU %d", v->index);
	return 0;
}

static int host_msr_on_thread(struct vcpu *v, void *arg, char *err)
{
	struct x86_request *q = arg;
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry entry;
	} m;
	memset(&m, 0, sizeof(m));
	m.head.nmsrs = 1;
	m.entry.index = q->msr;
	m.entry.data = q->value;
	int set = q->entry == ENTRY_WRMSR;
	int n = ioctl(v->fd, set ? KVM_SET_MSRS : KVM_GET_MSRS, &m);
	if (n < 0)
		return sys_fail(err, errno, "%s on vCPU %d", set ? "KVM_SET_MSRS" : "KVM_GET_MSRS", v->index);
	q->accepted = n == 1;
	q->value = m.entry.data;
	return 0;
}

/* vm, vcpu and msr from the params. */
static struct vcpu *msr_params(struct call *c, uint32_t *msr)
{
	uint64_t m;
	struct vcpu *v = param_vcpu(c);
	if (!v || param_u64(c, "msr", &m))
		return NULL;
	if (m > UINT32_MAX) {
		rpc_error(c, E_PARAMS, "params.msr must fit 32 bits");
		return NULL;
	}
	*msr = (uint32_t)m;
	return v;
}

static int m_guest_msr(struct call *c, unsigned entry)
{
	struct x86_request q = { .entry = entry };
	struct vcpu *v = msr_params(c, &q.msr);
	if (!v || (entry == ENTRY_WRMSR && param_u64(c, "value", &q.value)))
		return -1;
	char err[ERR_LEN];
	if (vcpu_call(v, guest_on_thread, &q, err))
		return rpc_error(c, E_FAILED, "%s", err);
	uint64_t value = entry == ENTRY_RDMSR && !q.faulted ? (q.out.rdx << 32) | (q.out.rax & 0xffffffffull) : 0;
	rpc_begin(c);
	jb_printf(c->out, "\"faulted\":%s,\"value\":%llu", q.faulted ? "true" : "false", (unsigned long long)value);
	return rpc_end(c);
}

static int m_guest_wrmsr(struct call *c) { return m_guest_msr(c, ENTRY_WRMSR); }
static int m_guest_rdmsr(struct call *c) { return m_guest_msr(c, ENTRY_RDMSR); }

static int m_host_set_msr(struct call *c)
{
	struct x86_request q = { .entry = ENTRY_WRMSR };
	struct vcpu *v = msr_params(c, &q.msr);
	if (!v || param_u64(c, "value", &q.value))
		return -1;
	char err[ERR_LEN];
	if (vcpu_call(v, host_msr_on_thread, &q, err))
		return rpc_error(c, E_FAILED, "%s", err);
	rpc_begin(c);
	jb_printf(c->out, "\"accepted\":%s", q.accepted ? "true" : "false");
	return rpc_end(c);
}

static int m_host_get_msr(struct call *c)
{
	struct x86_request q = { .entry = ENTRY_RDMSR };
	struct vcpu *v = msr_params(c, &q.msr);
	if (!v)
		return -1;
	char err[ERR_LEN];
	if (vcpu_call(v, host_msr_on_thread, &q, err))
		return rpc_error(c, E_FAILED, "%s", err);
	if (!q.accepted)
		return rpc_error(c, E_STATE, "KVM_GET_MSRS refused MSR 0x%x (read 0 of 1)", q.msr);
	rpc_begin(c);
	jb_printf(c->out, "\"value\":%llu", (unsigned long long)q.value);
	return rpc_end(c);
}

static int m_cpuid(struct call *c)
{
	struct x86_request q = { .entry = ENTRY_CPUID };
	struct vcpu *v = param_vcpu(c);
	uint64_t leaf;
	if (!v || param_u64(c, "leaf", &leaf))
		return -1;
	if (leaf > UINT32_MAX)
		return rpc_error(c, E_PARAMS, "params.leaf must fit 32 bits");
	q.value = leaf;
	char err[ERR_LEN];
	if (vcpu_call(v, guest_on_thread, &q, err))
		return rpc_error(c, E_FAILED, "%s", err);
	rpc_begin(c);
	jb_printf(c->out, "\"eax\":%u,\"ebx\":%u,\"ecx\":%u,\"edx\":%u", (uint32_t)q.out.rax, (uint32_t)q.out.rbx,
		  (uint32_t)q.out.rcx, (uint32_t)q.out.rdx);
	return rpc_end(c);
}

const struct method arch_methods[] = {
	{ "x86.guest_wrmsr", m_guest_wrmsr }, { "x86.guest_rdmsr", m_guest_rdmsr },
	{ "x86.host_set_msr", m_host_set_msr }, { "x86.host_get_msr", m_host_get_msr },
	{ "x86.cpuid", m_cpuid },
};
const size_t arch_nmethods = sizeof(arch_methods) / sizeof(arch_methods[0]);
