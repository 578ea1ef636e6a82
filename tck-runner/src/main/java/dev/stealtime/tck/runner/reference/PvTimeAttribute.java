package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.support.Errno;

/**
 * The vCPU attribute {@code KVM_ARM_VCPU_PVTIME_IPA} in group {@code KVM_ARM_VCPU_PVTIME_CTRL}
 * (Documentation/virt/kvm/devices/vcpu.rst), in the order Linux checks (arch/arm64/kvm/pvtime.c):
 *
 * <pre>
 *   Returns: -ENXIO:  Stolen time not implemented
 *            -EEXIST: Base address already set for this VCPU
 *            -EINVAL: Base address not 64 byte aligned
 *   The base address must be 64 byte aligned and exist within a valid guest memory region.
 * </pre>
 */
public class PvTimeAttribute {

    protected final GuestRam ram;
    protected final boolean offered;
    protected final StolenTime stolenTime;

    public PvTimeAttribute(GuestRam ram, boolean offered, StolenTime stolenTime) {
        this.ram = ram;
        this.offered = offered;
        this.stolenTime = stolenTime;
    }

    /** Stolen time is implemented and the attribute is the IPA. */
    protected boolean known(int group, long attr) {
        return offered && group == Arm64Vcpu.PVTIME_CTRL && attr == Arm64Vcpu.PVTIME_IPA;
    }

    public int has(int group, long attr) {
        return known(group, attr) ? 0 : Errno.ENXIO.negative();
    }

    public int set(int group, long attr, long ipa) {
        if (!known(group, attr)) {
            return Errno.ENXIO.negative();
        }
        if (!aligned(ipa)) {
            return Errno.EINVAL.negative();
        }
        if (stolenTime.configured()) {
            return Errno.EEXIST.negative();
        }
        if (!inGuestMemory(ipa)) {
            return Errno.EINVAL.negative();
        }
        stolenTime.setBase(ipa);
        return 0;
    }

    public Arm64Vcpu.AttrResult get(int group, long attr) {
        if (!known(group, attr)) {
            return new Arm64Vcpu.AttrResult(Errno.ENXIO.negative(), 0);
        }
        return new Arm64Vcpu.AttrResult(0, stolenTime.base());
    }

    protected boolean aligned(long ipa) {
        return (ipa & 63) == 0;
    }

    protected boolean inGuestMemory(long ipa) {
        return ram.contains(ipa, StolenTime.SIZE);
    }
}
