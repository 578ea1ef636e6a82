package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.Arm64Vcpu;

/** An arm64 vCPU of the reference hypervisor: the PV time attribute, the hypercalls and the update. */
public class Arm64ReferenceVcpu extends VirtualVcpu implements Arm64Vcpu {

    private final StolenTime stolenTime;
    private final PvTimeAttribute attribute;
    private final PvTimeHypercalls hypercalls;

    public Arm64ReferenceVcpu(int index, StolenTime stolenTime, PvTimeAttribute attribute, PvTimeHypercalls hypercalls) {
        super(index);
        this.stolenTime = stolenTime;
        this.attribute = attribute;
        this.hypercalls = hypercalls;
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
