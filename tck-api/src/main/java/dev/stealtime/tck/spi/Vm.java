package dev.stealtime.tck.spi;

import java.util.List;

/**
 * A running VM. Closing it releases every resource (KVM: vCPU fds, VM fd, memory mappings, threads).
 */
public interface Vm extends AutoCloseable {

    /** The spec the VM was built from. */
    VmSpec spec();

    /** Guest-physical memory. */
    GuestMemory memory();

    /**
     * The VMM saves this VM with its own mechanism and restores it into a new VM, as a user's
     * snapshot and restore (or a migration) does: this VM stops for good (close it as usual); the
     * returned VM has the same spec, the guest's memory and vCPU state as saved, and whatever the
     * VMM carries for steal time. Called between calls on the vCPUs. Only with
     * {@link Capability#VMM_SAVE_RESTORE}.
     *
     * @throws UnsupportedOperationException without {@link Capability#VMM_SAVE_RESTORE}
     */
    default Vm saveAndRestore() {
        throw new UnsupportedOperationException("the VMM cannot save and restore a VM (Capability.VMM_SAVE_RESTORE)");
    }

    /**
     * The VMM migrates this VM live into a new VM with its own mechanism, as to another host: the
     * destination is started first and waits; the guest keeps running while its memory is copied
     * (with dirty-page logging, in as many passes as the VMM needs), then stops here and continues
     * there. This VM is left stopped for good (close it as usual); the returned VM has the same spec,
     * the guest's memory and vCPU state, and whatever the VMM carries for steal time. Called between
     * calls on the vCPUs. Only with {@link Capability#VMM_LIVE_MIGRATION}.
     *
     * @throws UnsupportedOperationException without {@link Capability#VMM_LIVE_MIGRATION}
     */
    default Vm liveMigrate() {
        throw new UnsupportedOperationException("the VMM cannot migrate a VM live (Capability.VMM_LIVE_MIGRATION)");
    }

    /**
     * The VMM adds a vCPU to this running VM, as a user's CPU hot-plug does, and the guest brings it
     * online: the returned vCPU has the next index ({@link #vcpus()} includes it from now on) and is
     * offered what the VMM offers its vCPUs. Called between calls on the vCPUs. Only with
     * {@link Capability#VCPU_HOTPLUG}.
     *
     * @throws UnsupportedOperationException without {@link Capability#VCPU_HOTPLUG}
     */
    default Vcpu hotplugVcpu() {
        throw new UnsupportedOperationException("the VMM cannot add a vCPU to a running VM (Capability.VCPU_HOTPLUG)");
    }

    /** The vCPUs, index 0..n-1. x86 VMs hand out {@link X86Vcpu}s, arm64 VMs {@link Arm64Vcpu}s. */
    List<? extends Vcpu> vcpus();

    default Vcpu vcpu(int index) {
        return vcpus().get(index);
    }

    @Override
    void close();
}
