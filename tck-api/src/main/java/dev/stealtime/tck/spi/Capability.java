package dev.stealtime.tck.spi;

/**
 * Optional abilities a provider declares. A test that needs one the provider lacks is reported
 * NOT APPLICABLE with the name of the capability, never PASS and never FAIL.
 */
public enum Capability {
    /** More than one vCPU per VM. KVM: one {@code KVM_CREATE_VCPU} per vCPU. */
    MULTI_VCPU,
    /** Guest RAM laid out as several regions with unmapped holes between them. KVM: several memory slots. */
    MEMORY_HOLES,
    /** Guest RAM above 4 GiB. KVM: a memory slot at a high guest-physical address. */
    HIGH_MEMORY,
    /**
     * A VM can be built with steal time not offered at all ({@link VmSpec#stealTimeOffered()} false).
     * KVM x86: the CPUID feature bit withheld and {@code KVM_CAP_ENFORCE_PV_FEATURE_CPUID} enabled;
     * KVM arm64: a VM whose vCPUs lack PV time.
     */
    WITHHOLD_STEAL_TIME,
    /** x86: the VMM path to the MSR. KVM: {@code KVM_SET_MSRS} / {@code KVM_GET_MSRS} on the vCPU fd. */
    HOST_MSR_ACCESS,
    /**
     * Dirty-page logging on guest RAM, as a VMM uses it for live migration:
     * {@link GuestMemory#startDirtyLog()}, {@link GuestMemory#takeDirtyPages()},
     * {@link GuestMemory#dirtyLogGranule()}. KVM: {@code KVM_MEM_LOG_DIRTY_PAGES} on every memory slot
     * ({@code KVM_SET_USER_MEMORY_REGION}) and {@code KVM_GET_DIRTY_LOG} per slot.
     */
    DIRTY_LOG,
    /**
     * The VMM can move guest RAM: {@link GuestMemory#replaceBacking(long)} deletes the memory slot
     * holding an address and re-creates it at the same guest-physical address with new backing
     * memory, and {@link GuestMemory#readRetired(long, int)} reads the old backing afterwards. KVM:
     * {@code KVM_SET_USER_MEMORY_REGION} with {@code memory_size} 0, then again with a new
     * {@code userspace_addr}.
     */
    MOVABLE_MEMORY,
    /**
     * The VMM saves a running VM with its own mechanism and restores it into a new VM
     * ({@link Vm#saveAndRestore()}), as users snapshot and restore or migrate a guest; what it
     * carries for steal time is its own business (x86: {@code MSR_KVM_STEAL_TIME}; arm64: each
     * vCPU's PV-time IPA). QEMU: QMP {@code migrate} to a file, then a new QEMU with
     * {@code -incoming} from it.
     */
    VMM_SAVE_RESTORE,
    /**
     * The VMM migrates a running VM live into a new VM ({@link Vm#liveMigrate()}), as users move a
     * guest to another host: the source keeps running while its memory is copied, then stops, and the
     * destination continues. QEMU: a second QEMU with {@code -incoming defer}, QMP
     * {@code migrate-incoming} there and {@code migrate} here, over a Unix socket (inside emulated
     * machines: from one machine to another, the TCK carrying the stream as a network would).
     */
    VMM_LIVE_MIGRATION,
    /**
     * x86: the VMM adds a vCPU to a running VM ({@link Vm#hotplugVcpu()}), once per VM at least.
     * QEMU: {@code -smp N,maxcpus=N+1}, QMP {@code device_add} of the free CPU slot
     * ({@code query-hotpluggable-cpus}), the test guest's INIT-SIPI-SIPI to its APIC ID.
     */
    VCPU_HOTPLUG,
    /**
     * x86: a VM can be built whose guest is offered steal time as its <em>only</em> paravirtual
     * feature ({@link VmSpec#onlyStealTime()}): whatever else the hypervisor can offer a guest is
     * withheld, and withheld features are enforced. KVM: {@code KVM_CPUID_FEATURES} (leaf
     * {@code 0x40000001}) EAX holds {@code KVM_FEATURE_STEAL_TIME} alone and
     * {@code KVM_CAP_ENFORCE_PV_FEATURE_CPUID} is enabled; Linux's {@code record_steal_time} then
     * takes its path without the PV TLB flush, which once forgot to clear {@code preempted}
     * (1eff0ada88b4). A hypervisor with no other paravirtual feature declares it and ignores the flag.
     */
    STEAL_TIME_ALONE,
    /**
     * arm64: the VMM boots its guest with a device tree and places every vCPU's structure itself
     * ({@link Arm64Vcpu#vmmPlacedIpa()}), and the guest's reading of that tree is available
     * ({@link Arm64Vcpu#deviceTree()}). QEMU {@code virt}: the tree QEMU generates, read by the TCK's
     * test guest from the address it was booted with.
     */
    GUEST_DEVICE_TREE
}
