package dev.stealtime.tck.spi;

/**
 * The x86 facet of a vCPU: the MSR from the guest's side and from the VMM's side, and CPUID.
 *
 * <p>The guest side zeroes a structure before registering it (seed 000: "Guest is required to make
 * sure this structure is initialized to zero"); the TCK does that through {@link GuestMemory#write}.
 * When steal appears after a registration is up to the hypervisor, within the update bound
 * described on {@link Vcpu}.
 */
public interface X86Vcpu extends Vcpu {

    /** {@code MSR_KVM_STEAL_TIME}. */
    int MSR_KVM_STEAL_TIME = 0x4b564d03;

    /**
     * The guest executes WRMSR. The vCPU runs to do it, so the hypervisor may update the structure
     * on this entry (an enabling write may or may not fill the structure before this returns). KVM:
     * real guest code (WRMSR) under {@code KVM_RUN}; a fault is delivered to a #GP handler in the
     * guest that records it. Linux fills the structure before the guest resumes: the write raises
     * {@code KVM_REQ_STEAL_UPDATE}. An address outside guest RAM with bit 0 set: Linux accepts it and
     * never writes it; rejecting it (#GP) is allowed too (seed 000: the memory area "must be in guest
     * RAM"); only {@code X86-RDMSR-READBACK} (linux-abi) reads such values back.
     */
    MsrResult guestWrmsr(int msr, long value);

    /** The guest executes RDMSR; it enters the guest, like {@link #guestWrmsr}. */
    MsrResult guestRdmsr(int msr);

    /**
     * The VMM sets the MSR (host-initiated write, as on migration). Returns false when the
     * hypervisor rejected it. Does not enter the guest. After {@code gpa | 1} the first update may
     * land at once or on any later guest entry; the TCK runs the vCPU until it does, within the
     * update bound (see {@link Vcpu}). KVM: {@code KVM_SET_MSRS} with one entry; true iff it returns
     * 1; the write raises {@code KVM_REQ_STEAL_UPDATE}, so the structure is filled on the next
     * {@code KVM_RUN}. Needs {@link Capability#HOST_MSR_ACCESS}. On a VM whose steal time is
     * withheld ({@link VmSpec#stealTimeOffered()} false, PV CPUID enforced) Linux refuses the write
     * like the guest's ({@code guest_pv_has} in {@code kvm_set_msr_common}): false, nothing written
     * ({@code X86-FEATURE-BIT}, linux-abi).
     */
    boolean hostSetMsr(int msr, long value);

    /**
     * The VMM reads the MSR. KVM: {@code KVM_GET_MSRS}. Needs {@link Capability#HOST_MSR_ACCESS}.
     *
     * @throws IllegalStateException when the hypervisor refused the read
     */
    long hostGetMsr(int msr);

    /**
     * The guest executes CPUID: it enters the guest, so it may carry an update like any entry. KVM:
     * the leaf configured with {@code KVM_SET_CPUID2}, answered by the kernel on the CPUID exit.
     * The TCK asks 0x40000000 ({@code KVM_CPUID_SIGNATURE}: EAX the highest hypervisor leaf, at least
     * 0x40000001; EBX, ECX, EDX "KVMKVMKVM\0\0\0") and 0x40000001 ({@code KVM_CPUID_FEATURES}: EAX
     * bit 5, {@code KVM_FEATURE_STEAL_TIME}, set exactly when steal time is offered), both linux-abi
     * ({@code X86-FEATURE-BIT}).
     */
    CpuidResult cpuid(int leaf);
}
