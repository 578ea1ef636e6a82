/*
 * arch-arm64-vcpu.c - KVM/arm64 (arch.h): vCPUs from KVM_ARM_PREFERRED_TARGET with PSCI 0.2, the
 * guest program of arch-arm64-guest.h, the PVTIME vCPU attribute and SMCCC calls, and their
 * protocol methods (arm64.*).
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
#include "arch-arm64-guest.h"
#include "json.h"
#include "protocol.h"
#include "vcpu.h"
#include "vm.h"

#define CORE_REG(x) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(x))
#define REG_X(n) CORE_REG(regs.regs[n])
#define REG_PC CORE_REG(regs.pc)
#define REG_VBAR_EL1 ARM64_SYS_REG(3, 0, 12, 0, 0)

const char arch_provider_id[] = "kvm-arm64";
const char arch_description[] = "Linux KVM/arm64 through /dev/kvm (C adapter tck-kvm)";
const char arch_name[] = "ARM64";

struct arch_vcpu {
	int at_cmd;                   /* stopped at the guest's command read, the answer owed */
};

int arch_global_init(int kvm_fd, char *err)
{
	/* KVM_CAP_STEAL_TIME is kvm_arm_pvtime_supported(): the host kernel has scheduler statistics */
	int vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm < 0)
		return sys_fail(err, errno, "KVM_CREATE_VM");
	int st = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_STEAL_TIME);
	int saved = errno;
	close(vm);
	if (st < 0)
		return sys_fail(err, saved, "KVM_CHECK_EXTENSION(KVM_CAP_STEAL_TIME)");
	if (st == 0)
		return fail_msg(err, "KVM offers no PV time here (KVM_CAP_STEAL_TIME is 0: kernel without scheduler statistics?)");
	return 0;
}

void arch_capabilities(struct jbuf *out)
{
	/* WITHHOLD_STEAL_TIME is not offered: see arch_open_refusal */
	jb_lit(out, "[\"MULTI_VCPU\",\"MEMORY_HOLES\",\"HIGH_MEMORY\"]");
}

const char *arch_open_refusal(int steal_time_offered)
{
	if (steal_time_offered)
		return NULL;
	/* kvm_arm_pvtime_has_attr() answers 0 whenever kvm_arm_pvtime_supported() (sched_info_on(),
	 * host-wide): the attribute side cannot be withheld per VM, only the hypercalls can
	 * (KVM_REG_ARM_STD_HYP_BMAP, bit KVM_REG_ARM_STD_HYP_BIT_PV_TIME) */
	return "KVM/arm64 cannot withhold PV time per VM: HAS_DEVICE_ATTR(PVTIME_IPA) is host-wide (kvm_arm_pvtime_supported())";
}

/* The guest program at GUEST_CODE_IPA and its exception vectors (16 entries, 0x80 apart). */
int arch_vm_init(struct vm *vm, char *err)
{
	size_t code = (size_t)(guest_code_end - guest_code_start);
	size_t vec = (size_t)(guest_vector_end - guest_vector_start);
	uint8_t *at = vm_ram(vm, GUEST_CODE_IPA, GUEST_VECTORS + 16 * 0x80);
	if (!at)
		return fail_msg(err, "guest RAM must cover [0x%x, 0x%x) for the adapter's guest program",
				GUEST_CODE_IPA, GUEST_VECTORS + 16 * 0x80);
	if (code == 0 || code > GUEST_VECTORS || vec == 0 || vec > 0x80)
		return fail_msg(err, "guest program has an unexpected size (%zu, %zu bytes)", code, vec);
	memcpy(at, guest_code_start, code);
	for (int i = 0; i < 16; i++)
		memcpy(at + GUEST_VECTORS + i * 0x80, guest_vector_start, vec);
	__builtin___clear_cache((char *)at, (char *)at + GUEST_VECTORS + 16 * 0x80);
	return 0;
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

/* ------------------------------------------------------------------------- the command loop */

/* What one KVM_RUN ended with. */
enum exit_kind { EXIT_ERROR = -1, EXIT_CMD_READ, EXIT_INTR };

/* One KVM_RUN: the guest asks for its next command, or a signal ended the run. */
static enum exit_kind run_once(struct vcpu *v, char *err)
{
	int rc = vcpu_enter(v, err);
	if (rc < 0)
		return EXIT_ERROR;
	if (rc > 0)
		return EXIT_INTR;
	struct kvm_run *r = v->run;
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
	while (!v->arch->at_cmd) {
		switch (run_once(v, err)) {
		case EXIT_CMD_READ: v->arch->at_cmd = 1; break;
		case EXIT_INTR: vcpu_consume_wake_signal(); break;
		default: return -1;
		}
	}
	return 0;
}

/* Answers the guest's command read with op; the next KVM_RUN carries it out. */
static void command(struct vcpu *v, uint64_t op)
{
	memcpy(v->run->mmio.data, &op, 8);
	v->arch->at_cmd = 0;
}

/* Carries out op (operands already in the registers): one guest entry, back at the command read. */
static int perform(struct vcpu *v, uint64_t op, char *err)
{
	if (reach_command(v, err))
		return -1;
	command(v, op);
	return reach_command(v, err);
}

int arch_tick(struct vcpu *v, uint64_t loops, char *err)
{
	if (reach_command(v, err) || set_reg(v, REG_X(1), loops, "x1", err))
		return -1;
	return perform(v, GUEST_OP_BUSY, err);
}

int arch_halt_begin(struct vcpu *v, char *err)
{
	if (reach_command(v, err))
		return -1;
	command(v, GUEST_OP_WFI);
	return 0;
}

enum halt_step arch_halt_step(struct vcpu *v, char *err)
{
	switch (run_once(v, err)) {
	case EXIT_INTR: return HALT_INTR;
	case EXIT_CMD_READ: v->arch->at_cmd = 1; return HALT_WOKE;   /* WFI returned on its own */
	default: return HALT_ERROR;
	}
}

int arch_halt_end(struct vcpu *v, char *err)
{
	(void)v;
	(void)err;
	return 0;
}

/* ------------------------------------------------------------------------- creation */

int arch_vcpu_init(struct vcpu *v, int steal_time_offered, char *err)
{
	(void)steal_time_offered;     /* always offered: arch_open_refusal */
	v->arch = calloc(1, sizeof(*v->arch));
	if (!v->arch)
		return fail_msg(err, "out of memory");
	struct kvm_vcpu_init init;
	memset(&init, 0, sizeof(init));
	if (ioctl(v->vm_fd, KVM_ARM_PREFERRED_TARGET, &init))
		return sys_fail(err, errno, "KVM_ARM_PREFERRED_TARGET");
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init))
		return sys_fail(err, errno, "KVM_ARM_VCPU_INIT vCPU %d (target %u, PSCI 0.2)", v->index, init.target);

	/* reset state: EL1h, MMU off, DAIF masked; start at the command loop */
	return set_reg(v, REG_PC, GUEST_CODE_IPA, "pc", err)
	       || set_reg(v, REG_VBAR_EL1, GUEST_VECTORS, "VBAR_EL1", err) ? -1 : 0;
}

void arch_vcpu_free(struct vcpu *v)
{
	free(v->arch);
	v->arch = NULL;
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

static int vcpu_has_attr(struct vcpu *v, uint32_t group, uint64_t attr)
{
	return attr_call(v, KVM_HAS_DEVICE_ATTR, group, attr, NULL);
}

static int vcpu_set_attr(struct vcpu *v, uint32_t group, uint64_t attr, uint64_t value)
{
	return attr_call(v, KVM_SET_DEVICE_ATTR, group, attr, &value);
}

static int vcpu_get_attr(struct vcpu *v, uint32_t group, uint64_t attr, uint64_t *value)
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

static int vcpu_smccc(struct vcpu *v, uint32_t function_id, const uint64_t *args, int nargs, uint64_t *x0, char *err)
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

/* ------------------------------------------------------------------------- protocol methods */

static int attr_params(struct call *c, struct vcpu **v, uint32_t *group, uint64_t *attr)
{
	uint64_t g;
	*v = param_vcpu(c);
	if (!*v || param_u64(c, "group", &g) || param_u64(c, "attr", attr))
		return -1;
	if (g > UINT32_MAX)
		return rpc_error(c, E_PARAMS, "params.group must fit 32 bits");
	*group = (uint32_t)g;
	return 0;
}

static int m_has_attr(struct call *c)
{
	struct vcpu *v;
	uint32_t group;
	uint64_t attr;
	if (attr_params(c, &v, &group, &attr))
		return -1;
	rpc_begin(c);
	jb_printf(c->out, "\"errno\":%d", vcpu_has_attr(v, group, attr));
	return rpc_end(c);
}

static int m_set_attr(struct call *c)
{
	struct vcpu *v;
	uint32_t group;
	uint64_t attr, value;
	if (attr_params(c, &v, &group, &attr) || param_u64(c, "value", &value))
		return -1;
	rpc_begin(c);
	jb_printf(c->out, "\"errno\":%d", vcpu_set_attr(v, group, attr, value));
	return rpc_end(c);
}

static int m_get_attr(struct call *c)
{
	struct vcpu *v;
	uint32_t group;
	uint64_t attr, value = 0;
	if (attr_params(c, &v, &group, &attr))
		return -1;
	int e = vcpu_get_attr(v, group, attr, &value);
	rpc_begin(c);
	jb_printf(c->out, "\"errno\":%d,\"value\":%llu", e, (unsigned long long)(e ? 0 : value));
	return rpc_end(c);
}

static int m_smccc(struct call *c)
{
	struct vcpu *v = param_vcpu(c);
	uint64_t fid, args[3];
	const struct json *a = json_get(c->params, "args");
	if (!v || param_u64(c, "function_id", &fid))
		return -1;
	if (fid > UINT32_MAX)
		return rpc_error(c, E_PARAMS, "params.function_id must fit 32 bits");
	if (a && a->type != JSON_ARRAY)
		return rpc_error(c, E_PARAMS, "params.args must be an array");
	size_t n = a ? a->n : 0;
	if (n > 3)
		return rpc_error(c, E_UNSUPPORTED, "the guest passes at most 3 SMCCC arguments (x1..x3), asked for %zu", n);
	for (size_t i = 0; i < n; i++)
		if (a->items[i]->type != JSON_NUMBER || json_u64(a->items[i], &args[i]) || a->items[i]->text[0] == '-')
			return rpc_error(c, E_PARAMS, "params.args[%zu] must be an unsigned integer", i);
	uint64_t x0;
	char err[ERR_LEN];
	if (vcpu_smccc(v, (uint32_t)fid, args, (int)n, &x0, err))
		return rpc_error(c, E_FAILED, "%s", err);
	rpc_begin(c);
	jb_printf(c->out, "\"x0\":%llu", (unsigned long long)x0);
	return rpc_end(c);
}

const struct method arch_methods[] = {
	{ "arm64.has_device_attr", m_has_attr }, { "arm64.set_device_attr", m_set_attr },
	{ "arm64.get_device_attr", m_get_attr }, { "arm64.smccc", m_smccc },
};
const size_t arch_nmethods = sizeof(arch_methods) / sizeof(arch_methods[0]);
