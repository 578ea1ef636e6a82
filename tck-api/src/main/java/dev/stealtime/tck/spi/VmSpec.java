package dev.stealtime.tck.spi;

import java.util.List;
import java.util.Objects;

/**
 * What VM the TCK asks a provider to build.
 *
 * @param architecture     guest architecture
 * @param vcpus            number of vCPUs (at least 1)
 * @param ram              guest RAM regions in ascending order; the gaps between them are holes that
 *                         no memory backs ("outside guest RAM")
 * @param stealTimeOffered whether the hypervisor offers steal time to this guest at all. When false:
 *                         x86 — the CPUID bit {@code KVM_FEATURE_STEAL_TIME} is withheld and PV CPUID
 *                         is enforced, so the MSR faults; arm64 — PV time is not offered, so the vCPU
 *                         attribute answers {@code -ENXIO} and the hypercalls answer NOT_SUPPORTED.
 *                         Providers that cannot do this do not declare {@link Capability#WITHHOLD_STEAL_TIME}.
 * @param onlyStealTime    x86, with steal time offered: steal time is the guest's only paravirtual
 *                         feature; the hypervisor's others (KVM: PV TLB flush, PV EOI, kvmclock, ...)
 *                         are withheld and that is enforced. Only asked of providers that declare
 *                         {@link Capability#STEAL_TIME_ALONE}. False: the hypervisor offers what it
 *                         normally does.
 * @param vmmPlaced        arm64, with steal time offered: the VM as a whole VMM boots its guest. The VMM
 *                         places every vCPU's structure itself before the guest runs
 *                         ({@link Arm64Vcpu#vmmPlacedIpa()}) in a region of its choice, and describes
 *                         guest memory and devices in a device tree ({@link Arm64Vcpu#deviceTree()}).
 *                         Only asked of providers that declare {@link Capability#GUEST_DEVICE_TREE}; a
 *                         VMM that always does so (QEMU) ignores it. False: as the provider normally
 *                         builds its VMs.
 */
public record VmSpec(Architecture architecture, int vcpus, List<MemoryRegion> ram, boolean stealTimeOffered,
                     boolean onlyStealTime, boolean vmmPlaced) {

    /** A VM offered the hypervisor's usual paravirtual features ({@code onlyStealTime} false). */
    public VmSpec(Architecture architecture, int vcpus, List<MemoryRegion> ram, boolean stealTimeOffered) {
        this(architecture, vcpus, ram, stealTimeOffered, false, false);
    }

    /** A VM built as the provider normally builds it ({@code vmmPlaced} false). */
    public VmSpec(Architecture architecture, int vcpus, List<MemoryRegion> ram, boolean stealTimeOffered, boolean onlyStealTime) {
        this(architecture, vcpus, ram, stealTimeOffered, onlyStealTime, false);
    }

    public VmSpec {
        Objects.requireNonNull(architecture, "architecture");
        if (vcpus < 1) {
            throw new IllegalArgumentException("a VM needs at least one vCPU: " + vcpus);
        }
        ram = List.copyOf(ram);
        if (ram.isEmpty()) {
            throw new IllegalArgumentException("a VM needs guest RAM");
        }
        if (onlyStealTime && !stealTimeOffered) {
            throw new IllegalArgumentException("steal time cannot be the only paravirtual feature when it is not offered");
        }
        if (vmmPlaced && !stealTimeOffered) {
            throw new IllegalArgumentException("the VMM cannot place structures for steal time it does not offer");
        }
        for (int i = 1; i < ram.size(); i++) {
            if (ram.get(i).gpa() < ram.get(i - 1).end()) {
                throw new IllegalArgumentException("RAM regions must be ascending and disjoint: " + ram);
            }
        }
    }

    /** Same VM with another vCPU count. */
    public VmSpec withVcpus(int n) {
        return new VmSpec(architecture, n, ram, stealTimeOffered, onlyStealTime, vmmPlaced);
    }

    /** Same VM with steal time offered or withheld. */
    public VmSpec withStealTimeOffered(boolean offered) {
        return new VmSpec(architecture, vcpus, ram, offered, offered && onlyStealTime, offered && vmmPlaced);
    }

    /** Same VM with steal time offered as the guest's only paravirtual feature. */
    public VmSpec withOnlyStealTime() {
        return new VmSpec(architecture, vcpus, ram, true, true, vmmPlaced);
    }

    /** Same VM as a whole VMM boots it: structures placed by the VMM, a device tree ({@code vmmPlaced}). */
    public VmSpec withVmmPlacement() {
        return new VmSpec(architecture, vcpus, ram, true, onlyStealTime, true);
    }

    /** True when {@code [gpa, gpa + length)} lies inside one RAM region. */
    public boolean inRam(long gpa, long length) {
        return ram.stream().anyMatch(r -> r.contains(gpa, length));
    }
}
