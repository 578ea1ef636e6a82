package dev.stealtime.tck.spi;

import java.util.OptionalLong;

/**
 * The arm64 facet of a vCPU: the VMM's device attributes and the guest's SMCCC calls.
 * Errors are negative errno values as the kernel returns them (e.g. {@code -6} for {@code -ENXIO}).
 *
 * <p><b>Who zeroes the structure.</b> The TCK, as the VMM: it writes 64 zero bytes at the IPA
 * through {@link GuestMemory#write} before it sets the IPA (as a VMM hands the guest fresh memory for
 * the reserved region). No required rule relies on the hypervisor zeroing it. Linux KVM's
 * {@code PV_TIME_ST} also zeroes the 64 bytes and restarts counting ({@code ARM-ST-REINITIALISES},
 * linux-abi); only {@code ARM-RESERVED-UNTOUCHED} (advisory) plants canaries in bytes 16..63, after
 * {@code PV_TIME_ST}, and asks updates to leave them.
 *
 * <p><b>Rejections.</b> An aligned IPA outside every RAM region must be rejected; any negative errno
 * will do (seed 002 lists {@code -EINVAL} only for misalignment; Linux KVM answers {@code -EINVAL}).
 */
public interface Arm64Vcpu extends Vcpu {

    /** {@code KVM_ARM_VCPU_PVTIME_CTRL}. */
    int PVTIME_CTRL = 2;
    /** {@code KVM_ARM_VCPU_PVTIME_IPA}. */
    long PVTIME_IPA = 0;

    /** {@code KVM_HAS_DEVICE_ATTR} on the vCPU fd: 0 or a negative errno. */
    int hasDeviceAttr(int group, long attr);

    /**
     * {@code KVM_SET_DEVICE_ATTR} on the vCPU fd, the value passed through the user pointer:
     * 0 or a negative errno.
     */
    int setDeviceAttr(int group, long attr, long value);

    /** {@code KVM_GET_DEVICE_ATTR} on the vCPU fd. */
    AttrResult getDeviceAttr(int group, long attr);

    /**
     * The guest issues an SMCCC call through the hypervisor conduit (HVC) with function id in w0
     * and arguments in x1.., and this returns x0 afterwards. The vCPU runs to do it (a guest entry,
     * which may carry an update).
     *
     * <p>The function id queried by {@code PV_TIME_FEATURES} and {@code SMCCC_ARCH_FEATURES} is passed
     * in {@code args[0]} zero-extended (bits 63:32 clear), so a hypervisor may read it as 32 bits
     * (seed 002: "PV_call_id: (uint32)"; Linux KVM: {@code smccc_get_arg1} truncated to {@code u32})
     * or as 64 bits: the TCK never sets the upper half.
     *
     * <p>The function ids the TCK calls: {@code SMCCC_VERSION} (0x80000000; w0 must say 1.1 =
     * 0x10001 or later, since the guest probes PV time "using the SMCCC 1.1 ARCH_FEATURES mechanism"),
     * {@code SMCCC_ARCH_FEATURES} (0x80000001, x1 = {@code PV_TIME_FEATURES}), {@code PV_TIME_FEATURES}
     * (0xC5000020, x1 = {@code PV_TIME_ST}, {@code PV_TIME_FEATURES} or other ids), {@code PV_TIME_ST}
     * (0xC5000021), and the SMC32 forms 0x85000020/0x85000021 and other ids, which must answer
     * NOT_SUPPORTED (-1, all 64 bits set).
     *
     * <p>The hypervisor writes {@code stolen_time} with one single-copy-atomic, naturally aligned
     * 8-byte store (there is no sequence counter): two 4-byte stores, or a byte-wise copy, tear, and
     * {@code ARM-ATOMIC-UPDATE} fails them. When counting starts (vCPU creation, the IPA, or
     * {@code PV_TIME_ST}, as Linux) is the hypervisor's choice at {@code required}: the TCK judges how
     * much stolen time grows between two of its observations, never an absolute value.
     */
    long smccc(int functionId, long... args);

    /**
     * Where the VMM placed this vCPU's structure itself, when it does: a whole VMM (QEMU, Firecracker,
     * crosvm, kvmtool) reserves its own region and sets {@code KVM_ARM_VCPU_PVTIME_IPA} on every vCPU
     * before the guest runs (QEMU {@code virt}: {@code 0x090a0000 + 64 × cpu index}), and offers no
     * way for anyone else to set, get or probe the attribute. Then {@link #hasDeviceAttr},
     * {@link #setDeviceAttr} and {@link #getDeviceAttr} are not reachable (they may throw), the rules
     * about them are NOT APPLICABLE with this as the reason, and every other rule runs on the structure
     * at this address, which {@code PV_TIME_ST} must return ({@code ARM-ST-RETURNS-OWN-IPA}); the
     * 64 bytes there must be readable and writable through {@link GuestMemory}.
     *
     * <p>Default: empty, the TCK acts as the VMM and places every structure itself through the device
     * attributes (the reference, Linux KVM through the adapter protocol).
     */
    default OptionalLong vmmPlacedIpa() {
        return OptionalLong.empty();
    }

    /**
     * The device tree the VMM gave the guest, as the guest reads it (any vCPU reads the same): every
     * {@code reg} entry whose addresses are the CPU's (memory nodes, {@code /reserved-memory}
     * children, devices), the memory reservation block's entries, and PCI host bridges' windows, in
     * the blob's order. The placement rules ({@code ARM-REGION-RESERVED}, {@code ARM-REGION-DISTINCT})
     * judge where the VMM put each vCPU's structure against it.
     *
     * <p>Only a provider that declares {@link Capability#GUEST_DEVICE_TREE} is asked; the default throws.
     */
    default java.util.List<DeviceTreeRange> deviceTree() {
        throw new UnsupportedOperationException("no device tree: the provider does not declare GUEST_DEVICE_TREE");
    }

    /** Result of a get: errno 0 and a value, or a negative errno. */
    record AttrResult(int errno, long value) {
    }
}
