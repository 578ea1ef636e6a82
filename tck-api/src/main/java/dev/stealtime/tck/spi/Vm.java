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

    /** The vCPUs, index 0..n-1. x86 VMs hand out {@link X86Vcpu}s, arm64 VMs {@link Arm64Vcpu}s. */
    List<? extends Vcpu> vcpus();

    default Vcpu vcpu(int index) {
        return vcpus().get(index);
    }

    @Override
    void close();
}
