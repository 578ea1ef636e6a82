package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.Arm64Vcpu;

/** An arm64 vCPU of the reference hypervisor: the PV time attribute, the hypercalls and the update. */
public class Arm64ReferenceVcpu extends VirtualVcpu implements Arm64Vcpu {

    private final StolenTime stolenTime;
    private final PvTimeAttribute attribute;
    private final PvTimeHypercalls hypercalls;
    private java.util.OptionalLong placed = java.util.OptionalLong.empty();
    private java.util.List<dev.stealtime.tck.spi.DeviceTreeRange> deviceTree;

    public Arm64ReferenceVcpu(int index, StolenTime stolenTime, PvTimeAttribute attribute, PvTimeHypercalls hypercalls) {
        super(index);
        this.stolenTime = stolenTime;
        this.attribute = attribute;
        this.hypercalls = hypercalls;
    }

    /**
     * As a whole VMM does before its guest runs ({@link dev.stealtime.tck.spi.VmSpec#vmmPlaced()}):
     * sets this vCPU's IPA in {@code region} (memory fresh from the VMM: zero); from then on the VMM
     * placed the structure ({@link #vmmPlacedIpa()}) and the guest sees the region's device tree.
     */
    public void placeAsVmm(PvTimeRegion region) {
        long ipa = region.ipa(index());
        int r = attribute.set(PVTIME_CTRL, PVTIME_IPA, ipa);
        if (r != 0) {
            throw new IllegalStateException(String.format("the VMM could not place vCPU %d's structure at 0x%x: SET_DEVICE_ATTR errno %d",
                    index(), ipa, r));
        }
        placed = java.util.OptionalLong.of(ipa);
        deviceTree = region.deviceTree();
    }

    @Override
    public java.util.OptionalLong vmmPlacedIpa() {
        return placed;
    }

    @Override
    public java.util.List<dev.stealtime.tck.spi.DeviceTreeRange> deviceTree() {
        if (deviceTree == null) {
            throw new UnsupportedOperationException("this VM was not booted as a whole VMM boots its guest (VmSpec.vmmPlaced()): no device tree");
        }
        return deviceTree;
    }

    /** This vCPU's stolen-time structure (Linux: vcpu->arch.steal). */
    protected StolenTime stolenTime() {
        return stolenTime;
    }

    @Override
    protected void onScheduledIn(long runDelayNanos) {
        stolenTime.update(runDelayNanos);   // "updated by the hypervisor prior to scheduling a VCPU"
    }

    @Override
    protected void onPreempted() {
        // arm64 has no preempted flag
    }

    @Override
    public int hasDeviceAttr(int group, long attr) {
        return attribute.has(group, attr);
    }

    @Override
    public int setDeviceAttr(int group, long attr, long value) {
        return attribute.set(group, attr, value);
    }

    @Override
    public AttrResult getDeviceAttr(int group, long attr) {
        return attribute.get(group, attr);
    }

    @Override
    public long smccc(int functionId, long... args) {
        enterGuest();
        return hypercalls.call(functionId, args, stealSourceNanos());
    }
}
