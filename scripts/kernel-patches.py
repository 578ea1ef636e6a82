#!/usr/bin/env python3
"""Writes the replay patches of `tck replay --all` into tck-runner/src/main/native/kernel-patches/.

Each entry below is one edit of Debian's linux-source-6.1 (6.1.192): Linux's own fixed steal-time
bugs put back (kind "history", named by the fix they undo, written here from the fix's description
against today's code), the fairness case (kind "fairness": a legal behaviour the required level must
accept), and small mutants of the steal-time code (kind "mutant": a deleted statement, a negated or
dropped condition, an off-by-one in a mask or an alignment, a swapped errno). Every edit names the
exact text it replaces, which must occur exactly once in the file, so a patch never applies to the
wrong place and regenerating against another release fails loudly.

    scripts/kernel-patches.py SOURCE_TREE        # a tree unpacked from linux-source-6.1.tar.xz

The headers are what `tck replay` prints in its table (see KernelPatch.java).
"""
import difflib
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tck-runner", "src", "main", "native", "kernel-patches")

PV = "arch/arm64/kvm/pvtime.c"
HC = "arch/arm64/kvm/hypercalls.c"
KH = "include/linux/kvm_host.h"
KHA = "arch/arm64/include/asm/kvm_host.h"
X86 = "arch/x86/kvm/x86.c"
CPUID = "arch/x86/kvm/cpuid.c"

# (name, arch, kind, header fields, [(file, old, new)])
P = []


def add(name, arch, kind, edits, fix="", breaks="", rule="", racy="", equivalent=""):
    P.append((name, arch, kind, dict(Fix=fix, Breaks=breaks, Rule=rule, Racy=racy, Equivalent=equivalent), edits))


# ------------------------------------------------------------------ arm64: Linux's own history
add("arm64-undo-53f985584e3c-migration", "arm64", "history",
    # the fix's own form: the running total is a field of the vCPU's steal struct in
    # arch/arm64/include/asm/kvm_host.h (the fix removed it), summed there and copied out
    [(KHA, "\tstruct {\n\t\tu64 last_steal;\n\t\tgpa_t base;\n\t} steal;\n",
      "\tstruct {\n\t\tu64 steal;\n\t\tu64 last_steal;\n\t\tgpa_t base;\n\t} steal;\n"),
     (PV, "\t\tsteal = le64_to_cpu(steal);\n\t\tvcpu->arch.steal.last_steal = READ_ONCE(current->sched_info.run_delay);\n"
          "\t\tsteal += vcpu->arch.steal.last_steal - last_steal;\n",
      "\t\tvcpu->arch.steal.last_steal = READ_ONCE(current->sched_info.run_delay);\n"
      "\t\tvcpu->arch.steal.steal += vcpu->arch.steal.last_steal - last_steal;\n\t\tsteal = vcpu->arch.steal.steal;\n"),
     (PV, "\tvcpu->arch.steal.last_steal = current->sched_info.run_delay;\n\tkvm_write_guest_lock",
      "\tvcpu->arch.steal.steal = 0;\n\tvcpu->arch.steal.last_steal = current->sched_info.run_delay;\n\tkvm_write_guest_lock")],
    fix='53f985584e3c "KVM: arm64: pvtime: Fix stolen time accounting across migration" (v5.9)',
    breaks="stolen time is summed in the vCPU's kernel struct (vcpu->arch.steal.steal) and written over guest memory: a VMM "
           "that restores the guest's memory (migration, save/restore) sees stolen_time restart from the destination's copy (0)",
    rule="ARM-ACCUMULATES-IN-MEMORY")

add("arm64-undo-pvtime-only-when-configured", "arm64", "history",
    [(PV, "\tcase ARM_SMCCC_HV_PV_TIME_ST:\n\t\tif (vcpu->arch.steal.base != GPA_INVALID)\n\t\t\tval = SMCCC_RET_SUCCESS;\n",
      "\tcase ARM_SMCCC_HV_PV_TIME_ST:\n\t\tval = SMCCC_RET_SUCCESS;\n")],
    fix='"KVM: arm64: pvtime: steal-time is only supported when configured" (v5.9)',
    breaks="PV_TIME_FEATURES(PV_TIME_ST) and PV_TIME_FEATURES(PV_TIME_FEATURES) say SUCCESS on a vCPU whose VMM "
           "set no IPA; the guest then calls PV_TIME_ST and gets NOT_SUPPORTED (-1)",
    rule="ARM-FEATURES-ST-NEEDS-IPA, ARM-FEATURES-SELF")

add("arm64-undo-pvtime-loss-of-stolen-time", "arm64", "history",
    [(PV, "\t\tvcpu->arch.steal.last_steal = READ_ONCE(current->sched_info.run_delay);\n"
          "\t\tsteal += vcpu->arch.steal.last_steal - last_steal;\n",
      "\t\tsteal += READ_ONCE(current->sched_info.run_delay) - last_steal;\n"
      "\t\tvcpu->arch.steal.last_steal = READ_ONCE(current->sched_info.run_delay);\n")],
    fix='"KVM: arm64: pvtime: Fix potential loss of stolen time" (v5.9)',
    breaks="run_delay read twice: a delay that lands between the two reads is never reported",
    rule="ARM-STEAL-ACCOUNTS",
    racy="needs the vCPU thread preempted between two adjacent loads in kvm_update_stolen_time, which runs "
         "preemptible only on a CONFIG_PREEMPT kernel; the replay's kernel is PREEMPT_NONE, so the window cannot be hit")

# ------------------------------------------------------------------ arm64: mutants of pvtime.c / hypercalls.c
def m(name, edits, breaks, rule="", equivalent="", arch="arm64"):
    add(name, arch, "mutant", edits, breaks=breaks, rule=rule, equivalent=equivalent)


m("arm64-m01-update-no-base-check",
  [(PV, "\tif (base == GPA_INVALID)\n\t\treturn;\n\n\tidx = srcu_read_lock",
    "\tidx = srcu_read_lock")],
  "kvm_update_stolen_time: the GPA_INVALID check deleted (writes to IPA ~0, outside guest memory: kvm_get_guest fails)",
  equivalent="kvm_update_stolen_time is only requested (KVM_REQ_RECORD_STEAL in kvm_arch_vcpu_load) when the IPA is set, so the check never decides anything")
m("arm64-m02-update-skips-write",
  [(PV, "\t\tkvm_put_guest(kvm, base + offset, cpu_to_le64(steal));\n", "")],
  "kvm_update_stolen_time: the write of stolen_time deleted", rule="ARM-STEAL-ACCOUNTS")
m("arm64-m03-update-no-last-steal",
  [(PV, "\t\tvcpu->arch.steal.last_steal = READ_ONCE(current->sched_info.run_delay);\n"
        "\t\tsteal += vcpu->arch.steal.last_steal - last_steal;\n",
    "\t\tsteal += READ_ONCE(current->sched_info.run_delay) - last_steal;\n")],
  "kvm_update_stolen_time: last_steal never advanced (every update adds all delay since PV_TIME_ST again)",
  rule="ARM-STEAL-ACCOUNTS")
m("arm64-m04-update-negated-get",
  [(PV, "\tif (!kvm_get_guest(kvm, base + offset, steal)) {", "\tif (kvm_get_guest(kvm, base + offset, steal)) {")],
  "kvm_update_stolen_time: the kvm_get_guest condition negated (never updates)", rule="ARM-STEAL-ACCOUNTS")
m("arm64-m05-update-wrong-offset",
  [(PV, "\tu64 offset = offsetof(struct pvclock_vcpu_stolen_time, stolen_time);",
    "\tu64 offset = offsetof(struct pvclock_vcpu_stolen_time, stolen_time) - 4;")],
  "kvm_update_stolen_time: stolen_time written at offset 4 instead of 8 (over attributes)", rule="ARM-ATTRIBUTES-ZERO")
m("arm64-m06-update-subtracts",
  [(PV, "\t\tsteal += vcpu->arch.steal.last_steal - last_steal;\n", "\t\tsteal -= vcpu->arch.steal.last_steal - last_steal;\n")],
  "kvm_update_stolen_time: the delta subtracted", rule="ARM-MONOTONIC")
m("arm64-m07-update-no-byteswap-in",
  [(PV, "\t\tsteal = le64_to_cpu(steal);\n", "")],
  "kvm_update_stolen_time: le64_to_cpu dropped",
  equivalent="on a little-endian host le64_to_cpu is the identity (the emulated machine is little-endian)")
m("arm64-m08-update-from-zero",
  [(PV, "\t\tsteal = le64_to_cpu(steal);\n", "\t\tsteal = 0;\n")],
  "kvm_update_stolen_time: starts from 0 each update instead of the value in guest memory (only the last delta is published)",
  rule="ARM-MONOTONIC, ARM-STEAL-ACCOUNTS")
m("arm64-m09-features-no-st",
  [(PV, "\tcase ARM_SMCCC_HV_PV_TIME_FEATURES:\n\tcase ARM_SMCCC_HV_PV_TIME_ST:\n\t\tif (vcpu->arch.steal.base",
    "\tcase ARM_SMCCC_HV_PV_TIME_FEATURES:\n\t\tif (vcpu->arch.steal.base")],
  "kvm_hypercall_pv_features: the PV_TIME_ST case deleted (never SUCCESS)", rule="ARM-FEATURES-ST")
m("arm64-m10-features-no-self",
  [(PV, "\tcase ARM_SMCCC_HV_PV_TIME_FEATURES:\n\tcase ARM_SMCCC_HV_PV_TIME_ST:\n\t\tif (vcpu->arch.steal.base",
    "\tcase ARM_SMCCC_HV_PV_TIME_ST:\n\t\tif (vcpu->arch.steal.base")],
  "kvm_hypercall_pv_features: the PV_TIME_FEATURES case deleted", rule="ARM-FEATURES-SELF")
m("arm64-m11-features-negated",
  [(PV, "\t\tif (vcpu->arch.steal.base != GPA_INVALID)\n\t\t\tval = SMCCC_RET_SUCCESS;",
    "\t\tif (vcpu->arch.steal.base == GPA_INVALID)\n\t\t\tval = SMCCC_RET_SUCCESS;")],
  "kvm_hypercall_pv_features: the IPA condition negated", rule="ARM-FEATURES-ST")
m("arm64-m12-init-no-zeroing",
  [(PV, "\tkvm_write_guest_lock(kvm, base, &init_values, sizeof(init_values));\n", "")],
  "kvm_init_stolen_time: the structure is not zeroed by PV_TIME_ST", rule="ARM-ST-REINITIALISES")
m("arm64-m13-init-no-last-steal",
  [(PV, "\tvcpu->arch.steal.last_steal = current->sched_info.run_delay;\n\tkvm_write_guest_lock",
    "\tkvm_write_guest_lock")],
  "kvm_init_stolen_time: counting does not restart at PV_TIME_ST (the delay since the last update before it is added)",
  rule="ARM-ST-REINITIALISES",
  equivalent="on the replay's kernel (PREEMPT_NONE): every entry into the guest that follows a vCPU load first runs "
             "kvm_update_stolen_time (KVM_REQ_RECORD_STEAL), which sets last_steal, and nothing can be scheduled between "
             "that entry and the HVC's handling, so last_steal already equals run_delay when PV_TIME_ST runs; only a "
             "CONFIG_PREEMPT kernel preempted inside the HVC exit path, before kvm_init_stolen_time, would show it (racy)")
m("arm64-m14-init-short-zeroing",
  [(PV, "\tkvm_write_guest_lock(kvm, base, &init_values, sizeof(init_values));",
    "\tkvm_write_guest_lock(kvm, base, &init_values, sizeof(init_values) - 8);")],
  "kvm_init_stolen_time: only the first 8 bytes zeroed (stolen_time keeps its old value)", rule="ARM-ST-REINITIALISES")
m("arm64-m15-init-no-base-check",
  [(PV, "\tif (base == GPA_INVALID)\n\t\treturn base;\n\n\t/*", "\t/*")],
  "kvm_init_stolen_time: the GPA_INVALID check deleted (PV_TIME_ST without an IPA writes at ~0 and returns -1 anyway)",
  equivalent="the write to IPA ~0 fails (no memslot) and the returned value is GPA_INVALID, which the caller maps to NOT_SUPPORTED: nothing observable changes")
m("arm64-m16-set-align-63",
  [(PV, "\tif (!IS_ALIGNED(ipa, 64))\n\t\treturn -EINVAL;", "\tif (!IS_ALIGNED(ipa, 32))\n\t\treturn -EINVAL;")],
  "kvm_arm_pvtime_set_attr: alignment checked to 32 instead of 64 bytes", rule="ARM-EINVAL-ALIGN")
m("arm64-m17-set-no-align",
  [(PV, "\tif (!IS_ALIGNED(ipa, 64))\n\t\treturn -EINVAL;\n", "")],
  "kvm_arm_pvtime_set_attr: the alignment check deleted", rule="ARM-EINVAL-ALIGN")
m("arm64-m18-set-no-eexist",
  [(PV, "\tif (vcpu->arch.steal.base != GPA_INVALID)\n\t\treturn -EEXIST;\n", "")],
  "kvm_arm_pvtime_set_attr: the -EEXIST check deleted (a second set moves the structure)", rule="ARM-EEXIST")
m("arm64-m19-set-eexist-errno",
  [(PV, "\t\treturn -EEXIST;", "\t\treturn -EINVAL;")],
  "kvm_arm_pvtime_set_attr: -EEXIST swapped for -EINVAL", rule="ARM-EEXIST")
m("arm64-m20-set-order",
  [(PV, "\tif (!IS_ALIGNED(ipa, 64))\n\t\treturn -EINVAL;\n\tif (vcpu->arch.steal.base != GPA_INVALID)\n\t\treturn -EEXIST;\n",
    "\tif (vcpu->arch.steal.base != GPA_INVALID)\n\t\treturn -EEXIST;\n\tif (!IS_ALIGNED(ipa, 64))\n\t\treturn -EINVAL;\n")],
  "kvm_arm_pvtime_set_attr: -EEXIST checked before the alignment", rule="ARM-ERROR-PRECEDENCE")
m("arm64-m21-set-no-memslot-check",
  [(PV, "\tif (kvm_is_error_hva(gfn_to_hva(kvm, ipa >> PAGE_SHIFT)))\n\t\tret = -EINVAL;\n", "")],
  "kvm_arm_pvtime_set_attr: the memslot check deleted (an IPA outside guest memory is accepted)",
  rule="ARM-EINVAL-OUTSIDE-MEMORY")
m("arm64-m22-set-memslot-negated",
  [(PV, "\tif (kvm_is_error_hva(gfn_to_hva(kvm, ipa >> PAGE_SHIFT)))", "\tif (!kvm_is_error_hva(gfn_to_hva(kvm, ipa >> PAGE_SHIFT)))")],
  "kvm_arm_pvtime_set_attr: the memslot condition negated (every IPA in memory refused)", rule="ARM-EINVAL-OUTSIDE-MEMORY")
m("arm64-m23-set-unknown-attr",
  [(PV, "\tif (!kvm_arm_pvtime_supported() ||\n\t    attr->attr != KVM_ARM_VCPU_PVTIME_IPA)\n\t\treturn -ENXIO;\n\n\tif (get_user(ipa, user))",
    "\tif (!kvm_arm_pvtime_supported())\n\t\treturn -ENXIO;\n\n\tif (get_user(ipa, user))")],
  "kvm_arm_pvtime_set_attr: any attribute id sets the IPA", rule="ARM-ENXIO-UNKNOWN-ATTR")
m("arm64-m24-get-unknown-attr",
  [(PV, "\tif (!kvm_arm_pvtime_supported() ||\n\t    attr->attr != KVM_ARM_VCPU_PVTIME_IPA)\n\t\treturn -ENXIO;\n\n\tipa = vcpu->arch.steal.base;",
    "\tif (!kvm_arm_pvtime_supported())\n\t\treturn -ENXIO;\n\n\tipa = vcpu->arch.steal.base;")],
  "kvm_arm_pvtime_get_attr: any attribute id reads the IPA", rule="ARM-ENXIO-UNKNOWN-ATTR")
m("arm64-m25-get-wrong-value",
  [(PV, "\tipa = vcpu->arch.steal.base;\n", "\tipa = vcpu->arch.steal.base + 64;\n")],
  "kvm_arm_pvtime_get_attr: returns the IPA + 64", rule="ARM-GET-ATTR")
m("arm64-m26-has-always",
  [(PV, "\tcase KVM_ARM_VCPU_PVTIME_IPA:\n\t\tif (kvm_arm_pvtime_supported())\n\t\t\treturn 0;\n\t}\n\treturn -ENXIO;",
    "\tcase KVM_ARM_VCPU_PVTIME_IPA:\n\t\tif (kvm_arm_pvtime_supported())\n\t\t\treturn 0;\n\t}\n\treturn 0;")],
  "kvm_arm_pvtime_has_attr: every attribute id of the group answers 0", rule="ARM-ENXIO-UNKNOWN-ATTR")
m("arm64-m27-set-ipa-plus-64",
  [(PV, "\t\tvcpu->arch.steal.base = ipa;\n", "\t\tvcpu->arch.steal.base = ipa + 64;\n")],
  "kvm_arm_pvtime_set_attr: the structure placed 64 bytes after the IPA", rule="ARM-WRITES-IN-BOUNDS, ARM-ST-RETURNS-OWN-IPA")
m("arm64-m28-hc-st-no-return",
  [(HC, "\t\tgpa = kvm_init_stolen_time(vcpu);\n\t\tif (gpa != GPA_INVALID)\n\t\t\tval[0] = gpa;\n",
    "\t\tgpa = kvm_init_stolen_time(vcpu);\n")],
  "hypercalls.c: PV_TIME_ST always returns NOT_SUPPORTED", rule="ARM-ST-RETURNS-OWN-IPA")
m("arm64-m29-hc-st-no-invalid-check",
  [(HC, "\t\tgpa = kvm_init_stolen_time(vcpu);\n\t\tif (gpa != GPA_INVALID)\n\t\t\tval[0] = gpa;\n",
    "\t\tgpa = kvm_init_stolen_time(vcpu);\n\t\tval[0] = gpa;\n")],
  "hypercalls.c: PV_TIME_ST returns GPA_INVALID unchecked",
  equivalent="GPA_INVALID is ~0, which is NOT_SUPPORTED (-1) as the guest reads x0: the same value")
m("arm64-m30-hc-arch-features-no-pv",
  [(HC, "\t\tcase ARM_SMCCC_HV_PV_TIME_FEATURES:\n\t\t\tif (test_bit(KVM_REG_ARM_STD_HYP_BIT_PV_TIME,\n\t\t\t\t     &smccc_feat->std_hyp_bmap))\n\t\t\t\tval[0] = SMCCC_RET_SUCCESS;\n\t\t\tbreak;\n",
    "")],
  "hypercalls.c: SMCCC_ARCH_FEATURES(PV_TIME_FEATURES) answers NOT_SUPPORTED", rule="ARM-ARCH-FEATURES")
m("arm64-m31-hc-st-calls-features",
  [(HC, "\tcase ARM_SMCCC_HV_PV_TIME_ST:\n\t\tgpa = kvm_init_stolen_time(vcpu);",
    "\tcase ARM_SMCCC_HV_PV_TIME_ST:\n\t\tval[0] = kvm_hypercall_pv_features(vcpu);\n\t\tbreak;\n\t\tgpa = kvm_init_stolen_time(vcpu);")],
  "hypercalls.c: PV_TIME_ST answers like PV_TIME_FEATURES (0 / -1)", rule="ARM-ST-RETURNS-OWN-IPA")
m("arm64-m32-hc-allowed-pv-off",
  [(HC, "\tcase ARM_SMCCC_HV_PV_TIME_FEATURES:\n\tcase ARM_SMCCC_HV_PV_TIME_ST:\n\t\treturn test_bit(KVM_REG_ARM_STD_HYP_BIT_PV_TIME,",
    "\tcase ARM_SMCCC_HV_PV_TIME_FEATURES:\n\tcase ARM_SMCCC_HV_PV_TIME_ST:\n\t\treturn !test_bit(KVM_REG_ARM_STD_HYP_BIT_PV_TIME,")],
  "hypercalls.c: kvm_hvc_call_allowed negated for PV time (the calls refused while the bitmap offers them)",
  rule="ARM-FEATURES-ST")
m("arm64-m33-supported-never",
  [(PV, "\treturn !!sched_info_on();", "\treturn !sched_info_on();")],
  "kvm_arm_pvtime_supported negated: the attribute says -ENXIO on a host that has stolen time",
  rule="none: the kernel stops offering stolen time, consistently (KVM_CAP_STEAL_TIME 0, the attribute -ENXIO): what a "
       "kernel without CONFIG_SCHED_INFO does, and DEN0057A lets a hypervisor not implement it, so no rule can fail it; "
       "the TCK says NOT TESTED (the provider offers no stolen time) where the stock kernel CONFORMS, and a VMM such as "
       "QEMU stops enabling PV time")

# issue 27: the byte-swapping kernel, caught in 2 of 4 runs while ARM-LITTLE-ENDIAN compared two snapshots
m("arm64-m34-update-stores-big-endian",
  [(PV, "\t\tkvm_put_guest(kvm, base + offset, cpu_to_le64(steal));\n", "\t\tkvm_put_guest(kvm, base + offset, cpu_to_be64(steal));\n")],
  'kvm_update_stolen_time: stolen_time stored with cpu_to_be64 but still read back with le64_to_cpu, so every update swaps the bytes again (after an update with nothing to add it reads right); issue 27: ARM-LITTLE-ENDIAN, judged on two snapshots, failed it FAIL, PASS, FAIL, PASS',
  rule="ARM-LITTLE-ENDIAN")

# ------------------------------------------------------------------ x86: Linux's own history
REC_TLB = ("\t\tu8 st_preempted = 0;\n\t\tint err = -EFAULT;\n\n\t\tif (!user_access_begin(st, sizeof(*st)))\n\t\t\treturn;\n\n"
           "\t\tasm volatile(\"1: xchgb %0, %2\\n\"\n\t\t\t     \"xor %1, %1\\n\"\n\t\t\t     \"2:\\n\"\n"
           "\t\t\t     _ASM_EXTABLE_UA(1b, 2b)\n\t\t\t     : \"+q\" (st_preempted),\n\t\t\t       \"+&r\" (err),\n"
           "\t\t\t       \"+m\" (st->preempted));\n\t\tif (err)\n\t\t\tgoto out;\n")
add("x86-undo-1eff0ada88b4-preempted-never-cleared", "x86", "history",
    [(X86, "\t\tunsafe_put_user(0, &st->preempted, out);\n\t\tvcpu->arch.st.preempted = 0;\n",
      "\t\tvcpu->arch.st.preempted = 0;\n")],
    fix='1eff0ada88b4 "KVM: X86: Fix vCPU preempted state from guest\'s point of view" (v5.13)',
    breaks="with PV CPUID enforced and KVM_FEATURE_PV_TLB_FLUSH withheld, preempted (byte 16) is set when the vCPU "
           "is preempted and never cleared again: the guest sees itself preempted while it runs",
    rule="X86-PREEMPTED-CLEARED")
add("x86-undo-1930e5ddcead-rdmsr-restricted", "x86", "history",
    [(X86, "\tcase MSR_KVM_STEAL_TIME:\n\t\tif (!guest_pv_has(vcpu, KVM_FEATURE_STEAL_TIME))\n\t\t\treturn KVM_MSR_RET_UNSUPPORTED;\n\n\t\tmsr_info->data",
      "\tcase MSR_KVM_STEAL_TIME:\n\t\tmsr_info->data")],
    fix='1930e5ddcead "kvm: x86: reads of restricted pv msrs should also result in #GP" (v5.10)',
    breaks="with PV CPUID enforced and KVM_FEATURE_STEAL_TIME withheld, the guest's RDMSR of MSR_KVM_STEAL_TIME "
           "returns a value instead of #GP (WRMSR does #GP)",
    rule="X86-FEATURE-BIT")
add("x86-undo-5bb9ac186512-invalid-not-unsupported", "x86", "history",
    [(X86, "\tcase MSR_KVM_STEAL_TIME:\n\t\tif (!guest_pv_has(vcpu, KVM_FEATURE_STEAL_TIME))\n\t\t\treturn KVM_MSR_RET_UNSUPPORTED;\n\n\t\tif (unlikely(!sched_info_on()))",
      "\tcase MSR_KVM_STEAL_TIME:\n\t\tif (!guest_pv_has(vcpu, KVM_FEATURE_STEAL_TIME))\n\t\t\treturn 1;\n\n\t\tif (unlikely(!sched_info_on()))"),
     (X86, "\tcase MSR_KVM_STEAL_TIME:\n\t\tif (!guest_pv_has(vcpu, KVM_FEATURE_STEAL_TIME))\n\t\t\treturn KVM_MSR_RET_UNSUPPORTED;\n\n\t\tmsr_info->data",
      "\tcase MSR_KVM_STEAL_TIME:\n\t\tif (!guest_pv_has(vcpu, KVM_FEATURE_STEAL_TIME))\n\t\t\treturn 1;\n\n\t\tmsr_info->data")],
    fix='5bb9ac186512 "KVM: x86: Return \\"unsupported\\" instead of \\"invalid\\" on access to unsupported PV MSR"',
    breaks="with PV CPUID enforced and the steal-time bit withheld, an access to MSR_KVM_STEAL_TIME is 'invalid' (1) "
           "instead of 'unsupported': upstream, with the later change that lets the VMM's KVM_SET_MSRS/KVM_GET_MSRS of 0 "
           "succeed for unsupported MSRs, the VMM's save/restore of every listed MSR is refused",
    equivalent="in 6.1.192 nothing tells the two apart by default: kvm_msr_ignored_check() masks 'unsupported' only with "
               "kvm.ignore_msrs=1, and the exit reason differs only for a VMM that enabled KVM_CAP_X86_USER_SPACE_MSR; the "
               "VMM's access of 0 is refused either way (no rule can ask for it: the stock kernel refuses it too)")
add("x86-undo-54aa83c90198-preempted-on-exit-to-userspace", "x86", "history",
    [(X86, "\tif (vcpu->preempted) {\n\t\tif (!vcpu->arch.guest_state_protected)\n\t\t\tvcpu->arch.preempted_in_kernel = !static_call(kvm_x86_get_cpl)(vcpu);\n",
      "\tif (vcpu->preempted && !vcpu->arch.guest_state_protected)\n\t\tvcpu->arch.preempted_in_kernel = !static_call(kvm_x86_get_cpl)(vcpu);\n\t{\n")],
    fix='54aa83c90198 "KVM: x86: do not set st->preempted when going back to user space" (v5.19)',
    breaks="preempted is also set when KVM_RUN returns to the VMM (not only when the vCPU thread is preempted); "
           "in 6.1 only exits on an instruction boundary (host interrupts) reach it",
    rule="none: outside the interface — seed 000 defines no preempted byte; msr.rst calls it 'running or not', "
         "and a vCPU in the VMM is not running; X86-PREEMPTED-CLEARED (advisory) is about a running guest, which still sees 0")
add("x86-undo-b043138246a4-flush-tlb-missed", "x86", "history",
    [(X86, REC_TLB,
      "\t\tu8 st_preempted = 0;\n\n\t\tif (!user_access_begin(st, sizeof(*st)))\n\t\t\treturn;\n\n"
      "\t\tunsafe_get_user(st_preempted, &st->preempted, out);\n\t\tunsafe_put_user(0, &st->preempted, out);\n")],
    fix='b043138246a4 "x86/KVM: Make sure KVM_VCPU_FLUSH_TLB flag is not missed" (v5.6, CVE-2019-3016; guest side 8c6de56a42e0)',
    breaks="preempted is read and cleared in two accesses instead of one xchg: a KVM_VCPU_FLUSH_TLB another guest vCPU "
           "sets in between is lost, and this vCPU runs without the TLB flush it was promised",
    rule="none: outside the steal-time interface — the PV TLB flush protocol (KVM_FEATURE_PV_TLB_FLUSH) is not in the seeds, "
         "and byte 16 ends 0 either way; only the missing flush (a stale TLB in the guest) shows it",
    racy="needs a second guest vCPU to set KVM_VCPU_FLUSH_TLB within the few instructions between KVM's load and store of byte 16")
add("x86-undo-6cd88243c7e0-preempted-mid-instruction", "x86", "history",
    [(X86, "\tif (!vcpu->arch.at_instruction_boundary) {\n\t\tvcpu->stat.preemption_other++;\n\t\treturn;\n\t}\n\n", "")],
    fix='6cd88243c7e0 "KVM: x86: do not report a vCPU as preempted outside instruction boundaries" (v6.0, CVE-2022-39189)',
    breaks="a vCPU preempted in the middle of an exit that emulates or faults is reported preempted; the guest then skips "
           "its TLB-flush IPI and relies on a flush KVM will not do",
    rule="none: outside the steal-time interface — when KVM may report preempted is the PV TLB flush protocol's business; "
         "the steal-time rules see byte 16 cleared on every entry either way",
    racy="needs the vCPU thread preempted while KVM handles a non-interrupt exit, and a guest acting on the flag at that moment")
add("x86-undo-901d3765fa80-stale-cache-after-new-gpa", "x86", "history",
    [(X86, "\tif (unlikely(slots->generation != ghc->generation ||\n\t\t     gpa != ghc->gpa ||\n\t\t     kvm_is_error_hva(ghc->hva) || !ghc->memslot)) {\n\t\t/* We rely",
      "\tif (unlikely(slots->generation != ghc->generation ||\n\t\t     kvm_is_error_hva(ghc->hva) || !ghc->memslot)) {\n\t\t/* We rely")],
    fix='901d3765fa80 "KVM: x86: revalidate steal time cache if MSR value changes" (v5.19)',
    breaks="after the guest registers a second address (in the same memslots), updates keep going to the first structure",
    rule="X86-ENABLE, X86-ALIGN-NO-STRAY-WRITE, X86-LAYOUT")
add("x86-undo-pre-2016-version-never-odd", "x86", "history",
    [(X86, "\tversion += 1;\n\tunsafe_put_user(version, &st->version, out);\n\n\tsmp_wmb();\n\n\tunsafe_get_user(steal",
      "\tsmp_wmb();\n\n\tunsafe_get_user(steal"),
     (X86, "\tunsafe_put_user(steal, &st->steal, out);\n\n\tversion += 1;\n",
      "\tunsafe_put_user(steal, &st->steal, out);\n\n\tversion += 2;\n")],
    fix='the version protocol of record_steal_time before 2016 (version += 2 after the update, never odd; made odd-during-update in v4.x)',
    breaks="the version is never odd while steal is being written; a reader cannot tell an update is in progress",
    rule="X86-VERSION-ADVANCES, X86-TORN-READ",
    racy="only a reader landing between the store of steal and that of version can tell; steal itself is one aligned 8-byte store")
add("x86-fairness-pre-5.6-gp-outside-memslots", "x86", "fairness",
    [(X86, "\t\tif (data & KVM_STEAL_RESERVED_MASK)\n\t\t\treturn 1;\n\n\t\tvcpu->arch.st.msr_val = data;",
      "\t\tif (data & KVM_STEAL_RESERVED_MASK)\n\t\t\treturn 1;\n\n"
      "\t\tif (kvm_is_error_hva(gfn_to_hva(vcpu->kvm, gpa_to_gfn(data & KVM_STEAL_VALID_BITS))))\n\t\t\treturn 1;\n\n"
      "\t\tvcpu->arch.st.msr_val = data;")],
    fix='before v5.6 (b043138246a4 and "x86/kvm: Cache gfn to pfn translation", 917248144db5) kvm_gfn_to_hva_cache_init made WRMSR #GP',
    breaks="a WRMSR of an address outside every memslot #GPs instead of being accepted and never written: legal by seed 000 "
           "(it says only that the area must be in guest RAM), so the required level must pass",
    rule="X86-OUTSIDE-RAM")

# ------------------------------------------------------------------ x86: mutants of record_steal_time, the MSR cases, CPUID
x = lambda name, edits, breaks, rule="", equivalent="": m(name, edits, breaks, rule, equivalent, arch="x86")
x("x86-m01-record-no-enabled-check",
  [(X86, "\tif (!(vcpu->arch.st.msr_val & KVM_MSR_ENABLED))\n\t\treturn;\n\n\tif (WARN_ON_ONCE", "\tif (WARN_ON_ONCE")],
  "record_steal_time: the enable-bit check deleted (updates go on after the guest disabled steal time)", rule="X86-DISABLE")
x("x86-m02-record-no-odd-fixup",
  [(X86, "\tif (version & 1)\n\t\tversion += 1;  /* first time write, random junk */\n", "")],
  "record_steal_time: an odd version left by the guest is not made even first", rule="X86-VERSION-ODD-START")
x("x86-m03-record-no-first-increment",
  [(X86, "\tversion += 1;\n\tunsafe_put_user(version, &st->version, out);\n\n\tsmp_wmb();\n\n\tunsafe_get_user(steal",
    "\tunsafe_put_user(version, &st->version, out);\n\n\tsmp_wmb();\n\n\tunsafe_get_user(steal")],
  "record_steal_time: the first version increment deleted (the version ends odd)", rule="X86-VERSION-EVEN")
x("x86-m04-record-no-last-increment",
  [(X86, "\tunsafe_put_user(steal, &st->steal, out);\n\n\tversion += 1;\n\tunsafe_put_user(version, &st->version, out);\n",
    "\tunsafe_put_user(steal, &st->steal, out);\n\n\tunsafe_put_user(version, &st->version, out);\n")],
  "record_steal_time: the closing version increment deleted (the version stays odd)", rule="X86-VERSION-EVEN")
x("x86-m05-record-no-steal-store",
  [(X86, "\tunsafe_put_user(steal, &st->steal, out);\n", "")],
  "record_steal_time: the store of steal deleted", rule="X86-STEAL-ACCOUNTS")
x("x86-m06-record-no-last-steal",
  [(X86, "\tvcpu->arch.st.last_steal = current->sched_info.run_delay;\n\tunsafe_put_user(steal", "\tunsafe_put_user(steal")],
  "record_steal_time: last_steal never advanced (every update adds all run delay again)", rule="X86-STEAL-ACCOUNTS")
x("x86-m07-record-not-accumulating",
  [(X86, "\tsteal += current->sched_info.run_delay -\n\t\tvcpu->arch.st.last_steal;",
    "\tsteal = current->sched_info.run_delay -\n\t\tvcpu->arch.st.last_steal;")],
  "record_steal_time: steal overwritten with the last delta instead of added to", rule="X86-STEAL-MONOTONIC, X86-ACCUMULATES-IN-MEMORY")
x("x86-m08-record-subtracts",
  [(X86, "\tsteal += current->sched_info.run_delay -\n\t\tvcpu->arch.st.last_steal;",
    "\tsteal -= current->sched_info.run_delay -\n\t\tvcpu->arch.st.last_steal;")],
  "record_steal_time: the delta subtracted", rule="X86-STEAL-MONOTONIC")
x("x86-m09-record-no-wmb",
  [(X86, "\tunsafe_put_user(version, &st->version, out);\n\n\tsmp_wmb();\n\n", "\tunsafe_put_user(version, &st->version, out);\n\n")],
  "record_steal_time: the smp_wmb between the odd version and steal deleted",
  equivalent="x86 is TSO: stores are not reordered with stores, and smp_wmb() is only a compiler barrier, which the asm of unsafe_put_user already is")
x("x86-m10-record-gpa-mask-128",
  [(X86, "\tgpa_t gpa = vcpu->arch.st.msr_val & KVM_STEAL_VALID_BITS;\n\tu64 steal;",
    "\tgpa_t gpa = vcpu->arch.st.msr_val & (KVM_STEAL_VALID_BITS << 1);\n\tu64 steal;")],
  "record_steal_time: the address mask one bit too wide (bit 6 dropped: a structure at 64 mod 128 is written 64 bytes lower)",
  rule="X86-ALIGN-NO-STRAY-WRITE")
x("x86-m11-record-preempted-not-cleared-tlb",
  [(X86, REC_TLB, "\t\tu8 st_preempted = 0;\n\n\t\tif (!user_access_begin(st, sizeof(*st)))\n\t\t\treturn;\n\n"
                  "\t\tunsafe_get_user(st_preempted, &st->preempted, out);\n")],
  "record_steal_time: with PV TLB flush (the default) preempted is read but not cleared", rule="X86-PREEMPTED-CLEARED")
x("x86-m12-set-no-reserved-check",
  [(X86, "\t\tif (data & KVM_STEAL_RESERVED_MASK)\n\t\t\treturn 1;\n", "")],
  "kvm_set_msr_common: the reserved-bit check deleted", rule="X86-ALIGN-REJECT")
x("x86-m13-set-reserved-mask-short",
  [(X86, "\t\tif (data & KVM_STEAL_RESERVED_MASK)\n", "\t\tif (data & (KVM_STEAL_RESERVED_MASK >> 1))\n")],
  "kvm_set_msr_common: the reserved mask one bit off (bits 4:0: the enable bit refused, bit 5 accepted)", rule="X86-MSR-ACCESS, X86-ALIGN-REJECT")
x("x86-m14-set-no-store",
  [(X86, "\t\tvcpu->arch.st.msr_val = data;\n\n\t\tif (!(data & KVM_MSR_ENABLED))", "\t\tif (!(data & KVM_MSR_ENABLED))")],
  "kvm_set_msr_common: the value not stored (WRMSR accepted, nothing registered)", rule="X86-ENABLE, X86-RDMSR-READBACK")
x("x86-m15-set-no-request",
  [(X86, "\t\tkvm_make_request(KVM_REQ_STEAL_UPDATE, vcpu);\n\n\t\tbreak;\n\tcase MSR_KVM_PV_EOI_EN:",
    "\t\tbreak;\n\tcase MSR_KVM_PV_EOI_EN:")],
  "kvm_set_msr_common: no update requested by the WRMSR (the next one comes at the next vCPU load)",
  rule="X86-UPDATE-EVERY-ENTRY",
  equivalent="the catalogue leaves the first update after a registration free (seed 000: the hypervisor updates "
             "'at any time'; the same change of the reference, X86ReferenceVcpu.guestWrmsr, is a listed legal PIT "
             "survivor): the structure only keeps version 0 until the vCPU's next load, and every KVM_RUN loads it "
             "(kvm_arch_vcpu_load requests KVM_REQ_STEAL_UPDATE unconditionally), so the next guest entry publishes, "
             "as X86-UPDATE-EVERY-ENTRY asks once steal accrued")
x("x86-m16-set-no-feature-check",
  [(X86, "\tcase MSR_KVM_STEAL_TIME:\n\t\tif (!guest_pv_has(vcpu, KVM_FEATURE_STEAL_TIME))\n\t\t\treturn KVM_MSR_RET_UNSUPPORTED;\n\n\t\tif (unlikely(!sched_info_on()))",
    "\tcase MSR_KVM_STEAL_TIME:\n\t\tif (unlikely(!sched_info_on()))")],
  "kvm_set_msr_common: the PV CPUID check deleted (WRMSR accepted with the bit withheld and enforced)", rule="X86-FEATURE-BIT")
x("x86-m17-set-sched-info-negated",
  [(X86, "\t\tif (unlikely(!sched_info_on()))\n\t\t\treturn 1;\n\n\t\tif (data & KVM_STEAL_RESERVED_MASK)",
    "\t\tif (unlikely(sched_info_on()))\n\t\t\treturn 1;\n\n\t\tif (data & KVM_STEAL_RESERVED_MASK)")],
  "kvm_set_msr_common: the scheduler-statistics condition negated (every WRMSR #GPs)", rule="X86-MSR-ACCESS")
x("x86-m18-get-wrong-value",
  [(X86, "\t\tmsr_info->data = vcpu->arch.st.msr_val;\n", "\t\tmsr_info->data = vcpu->arch.st.msr_val & ~KVM_MSR_ENABLED;\n")],
  "kvm_get_msr_common: RDMSR drops the enable bit", rule="X86-RDMSR-READBACK")
x("x86-m19-cpuid-no-bit",
  [(CPUID, "\t\tif (sched_info_on())\n\t\t\tentry->eax |= (1 << KVM_FEATURE_STEAL_TIME);\n", "")],
  "KVM_GET_SUPPORTED_CPUID: the steal-time bit never offered",
  rule="none: the kernel stops advertising steal time to the VMM (KVM_GET_SUPPORTED_CPUID without bit 5), which is what a kernel without CONFIG_SCHED_INFO does and msr.rst allows (a hypervisor need not offer it): no rule can fail it; the TCK says NOT TESTED (KVM offers no steal time here) where the stock kernel CONFORMS, and a VMM such as QEMU stops offering it to guests")
x("x86-m20-cpuid-bit-off-by-one",
  [(CPUID, "\t\t\tentry->eax |= (1 << KVM_FEATURE_STEAL_TIME);", "\t\t\tentry->eax |= (1 << (KVM_FEATURE_STEAL_TIME + 1));")],
  "KVM_GET_SUPPORTED_CPUID: bit 6 (PV_EOI, already set) instead of bit 5",
  rule="none: the kernel stops advertising steal time to the VMM (KVM_GET_SUPPORTED_CPUID without bit 5), which is what a kernel without CONFIG_SCHED_INFO does and msr.rst allows (a hypervisor need not offer it): no rule can fail it; the TCK says NOT TESTED (KVM offers no steal time here) where the stock kernel CONFORMS, and a VMM such as QEMU stops offering it to guests")
x("x86-m21-preempted-flag-not-reset",
  [(X86, "\t\tuser_access_end();\n\n\t\tvcpu->arch.st.preempted = 0;\n", "\t\tuser_access_end();\n\n")],
  "record_steal_time: KVM's own copy of preempted not reset, so the vCPU is never reported preempted again",
  rule="none: outside the steal-time rules — reporting preemption is the PV spinlock/TLB protocols' business; no rule requires byte 16 to be set")
x("x86-m22-record-stores-byte-swapped",
  [(X86, "\tunsafe_put_user(steal, &st->steal, out);\n", "\tunsafe_put_user(swab64(steal), &st->steal, out);\n")],
  'record_steal_time: steal stored byte-swapped (swab64) but still read back as it is, so every update swaps the bytes again (after an update with nothing to add it reads right); the x86 twin of arm64-m34 (issue 27)',
  rule="X86-LITTLE-ENDIAN")


def write(tree):
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".patch"):
            os.remove(os.path.join(OUT, f))
    for name, arch, kind, hdr, edits in P:
        files = {}
        for path, old, new in edits:
            if path not in files:
                with open(os.path.join(tree, path)) as fh:
                    files[path] = [fh.read(), None]
            cur = files[path][1] if files[path][1] is not None else files[path][0]
            n = cur.count(old)
            if n != 1:
                sys.exit(f"{name}: the text to replace occurs {n} times in {path}: {old!r}")
            files[path][1] = cur.replace(old, new)
        lines = [f"Replay: {name}", f"Arch: {arch}", f"Kind: {kind}"]
        lines += [f"{k}: {v}" for k, v in hdr.items() if v]
        lines.append("Source: Debian linux-source-6.1 (6.1.192); written for the Steal-Time TCK's kernel replay")
        text = "\n".join(lines) + "\n\n"
        for path, (before, after) in files.items():
            text += "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                                 f"a/{path}", f"b/{path}", n=3))
        with open(os.path.join(OUT, name + ".patch"), "w") as fh:
            fh.write(text)
    print(f"{len(P)} patches in {os.path.normpath(OUT)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: kernel-patches.py SOURCE_TREE")
    write(sys.argv[1])
