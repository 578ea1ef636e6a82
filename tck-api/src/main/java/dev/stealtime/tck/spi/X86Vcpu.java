package dev.stealtime.tck.spi;

/**
 * The x86 facet of a vCPU: the MSR from the guest's side and from the VMM's side, and CPUID.
 */
public interface X86Vcpu extends Vcpu {

    /** {@code MSR_KVM_STEAL_TIME}. */
    int MSR_KVM_STEAL_TIME = 0x4b564d03;

    /**
     * The guest executes WRMSR. The vCPU runs to do it, so the hypervisor may update the structure
     * on this entry. KVM: real guest code (WRMSR) under {@code KVM_RUN}; a fault is delivered to a
     * #GP handler in the guest that records it.
     */
    MsrResult guestWrmsr(int msr, long value);

    /** The guest executes RDMSR; see {@link #guestWrmsr}. */
    MsrResult guestRdmsr(int msr);

    /**
     * The VMM sets the MSR (host-initiated write, as on migration). Returns false when the
     * hypervisor rejected it. KVM: {@code KVM_SET_MSRS} with one entry; true iff it returns 1.
     * Needs {@link Capability#HOST_MSR_ACCESS}.
     */
    boolean hostSetMsr(int msr, long value);

    /**
     * The VMM reads the MSR. KVM: {@code KVM_GET_MSRS}. Needs {@link Capability#HOST_MSR_ACCESS}.
     *
     * @throws IllegalStateException when the hypervisor refused the read
     */
    long hostGetMsr(int msr);

    /** CPUID as the guest sees it. KVM: the leaf configured with {@code KVM_SET_CPUID2}. */
    CpuidResult cpuid(int leaf);
}
