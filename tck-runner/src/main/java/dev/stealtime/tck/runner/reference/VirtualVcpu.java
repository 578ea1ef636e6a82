package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.Vcpu;

import java.time.Duration;

/**
 * A vCPU in virtual time. The host's measure of steal ({@code run_delay}) grows by exactly
 * {@code d} on {@code preempt(d)} and not at all on {@code idle(d)}. Each time the guest is entered
 * the vCPU has been scheduled in, and the architecture updates its steal-time structure then, as
 * Linux KVM does on vCPU load.
 */
public abstract class VirtualVcpu implements Vcpu {

    private final int index;
    /** The host's measure: time runnable but not running. */
    private long runDelayNanos;
    /** What the hypervisor reads as the source of steal (Linux: the same run_delay). */
    private long stealSourceNanos;

    protected VirtualVcpu(int index) {
        this.index = index;
    }

    @Override
    public int index() {
        return index;
    }

    /** The guest is entered after the vCPU was scheduled in: the hypervisor updates steal time. */
    protected final void enterGuest() {
        onScheduledIn(stealSourceNanos);
    }

    /** Called on every guest entry with the host's cumulative run delay of this vCPU. */
    protected abstract void onScheduledIn(long runDelayNanos);

    /** Called when the vCPU is taken off the CPU while runnable (the start of a preemption). */
    protected abstract void onPreempted();

    @Override
    public void run(Duration d) {
        enterGuest();
    }

    @Override
    public void preempt(Duration d) {
        onPreempted();
        runDelayNanos += d.toNanos();
        stealSourceNanos += d.toNanos();
    }

    @Override
    public void idle(Duration d) {
        // the guest halts: the vCPU is not runnable, so none of d is run delay; it wakes and re-enters
        idleFor(d);
        enterGuest();
    }

    /** What idling does to the host's measures: nothing in the reference. */
    protected void idleFor(Duration d) {
    }

    /** The hypervisor's own source of steal (equal to the host measure unless a variant is faulty). */
    protected long stealSourceNanos() {
        return stealSourceNanos;
    }

    @Override
    public long hostStealMeasureNanos() {
        return runDelayNanos;
    }

    /** Faulty variants use this to make the hypervisor count time the host did not measure as run delay. */
    protected void accountAsSteal(long nanos) {
        stealSourceNanos += nanos;
    }
}
