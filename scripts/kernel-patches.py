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
X86 = "arch/x86/kvm/x86.c"
CPUID = "arch/x86/kvm/cpuid.c"

# (name, arch, kind, header fields, [(file, old, new)])
P = []


def add(name, arch, kind, edits, fix="", breaks="", rule="", racy="", equivalent=""):
    P.append((name, arch, kind, dict(Fix=fix, Breaks=breaks, Rule=rule, Racy=racy, Equivalent=equivalent), edits))


# ------------------------------------------------------------------ arm64: Linux's own history
add("arm64-undo-53f985584e3c-migration", "arm64", "history",
    [(KH, "\tstruct kvm_vcpu_arch arch;\n",
      "\tstruct kvm_vcpu_arch arch;\n\tu64 replay_stolen_copy;\t/* pre-5.9: stolen time kept in the kernel */\n"),
     (PV, "\t\tsteal = le64_to_cpu(steal);\n\t\tvcpu->arch.steal.last_steal = READ_ONCE(current->sched_info.run_delay);\n"
          "\t\tsteal += vcpu->arch.steal.last_steal - last_steal;\n",
      "\t\tsteal = vcpu->replay_stolen_copy;\n\t\tvcpu->arch.steal.last_steal = READ_ONCE(current->sched_info.run_delay);\n"
      "\t\tsteal += vcpu->arch.steal.last_steal - last_steal;\n\t\tvcpu->replay_stolen_copy = steal;\n"),
     (PV, "\tvcpu->arch.steal.last_steal = current->sched_info.run_delay;\n\tkvm_write_guest_lock",
      "\tvcpu->arch.steal.last_steal = current->sched_info.run_delay;\n\tvcpu->replay_stolen_copy = 0;\n\tkvm_write_guest_lock")],
    fix='53f985584e3c "KVM: arm64: pvtime: Fix stolen time accounting across migration" (v5.9)',
    breaks="stolen time is summed in a per-vCPU kernel copy and written over guest memory: a VMM that restores "
           "the guest's memory (migration, save/restore) sees stolen_time restart from the destination's copy (0)",
    rule="ARM-ACCUMULATES-IN-MEMORY")

add("arm64-undo-pvtime-only-when-configured", "arm64", "history",
    [(PV, "\tcase ARM_SMCCC_HV_PV_TIME_ST:\n\t\tif (vcpu->arch.steal.base != GPA_INVALID)\n\t\t\tval = SMCCC_RET_SUCCESS;\n",
      "\tcase ARM_SMCCC_HV_PV_TIME_ST:\n\t\tval = SMCCC_RET_SUCCESS;\n")],
    fix='"KVM: arm64: pvtime: steal-time is only supported when configured" (v5.9)',
    breaks="PV_TIME_FEATURES(PV_TIME_ST) and PV_TIME_FEATURES(PV_TIME_FEATURES) say SUCCESS on a vCPU whose VMM "
           "set no IPA; the guest then calls PV_TIME_ST and gets NOT_SUPPORTED (-1)",
    rule="ARM-FEATURES-ST, ARM-FEATURES-SELF")

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
  rule="ARM-ST-REINITIALISES")
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
  "kvm_arm_pvtime_supported negated: the attribute says -ENXIO on a host that has stolen time", rule="ARM-HAS-ATTR")


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
