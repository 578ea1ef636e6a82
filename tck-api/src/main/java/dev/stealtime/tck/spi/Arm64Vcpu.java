package dev.stealtime.tck.spi;

/**
 * The arm64 facet of a vCPU: the VMM's device attributes and the guest's SMCCC calls.
 * Errors are negative errno values as the kernel returns them (e.g. {@code -6} for {@code -ENXIO}).
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
     * and arguments in x1.., and this returns x0 afterwards. The vCPU runs to do it.
     */
    long smccc(int functionId, long... args);

    /** Result of a get: errno 0 and a value, or a negative errno. */
    record AttrResult(int errno, long value) {
    }
}
