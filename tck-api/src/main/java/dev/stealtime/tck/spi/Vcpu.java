package dev.stealtime.tck.spi;

import java.time.Duration;

/**
 * One vCPU and the workload control the TCK drives it with. The same on every architecture.
 *
 * <p>Steal-time structures are updated by the hypervisor when the vCPU is scheduled in (Linux KVM:
 * on vCPU load / entry, see {@code record_steal_time} and {@code kvm_update_stolen_time}), so a
 * change caused by {@link #preempt} becomes visible in guest memory once the vCPU has run again.
 * Calls on one vCPU are made from one thread at a time.
 */
public interface Vcpu {

    /** Index in the VM, from 0. */
    int index();

    /**
     * The guest executes (busy) for about {@code d}. KVM: {@code KVM_RUN} on a guest busy loop that
     * exits to the host periodically until {@code d} has elapsed.
     */
    void run(Duration d);

    /**
     * The vCPU stays runnable but is kept off the CPU for about {@code d}: this is steal.
     * KVM: the guest is busy while a competing thread pinned to the same CPU holds it.
     */
    void preempt(Duration d);

    /**
     * The guest is idle (x86 HLT, arm64 WFI) for about {@code d}, voluntarily not running; this must
     * not be steal, even though the host CPU is contended meanwhile. KVM: the guest halts and the
     * vCPU thread blocks while a competitor hogs the CPU.
     */
    void idle(Duration d);

    /**
     * The host's own cumulative measure of this vCPU's runnable-but-not-running time, in
     * nanoseconds: the ground truth steal is checked against. Reference: exact virtual time; KVM:
     * field 2 ({@code run_delay}) of {@code /proc/<pid>/task/<tid>/schedstat} of the vCPU thread.
     */
    long hostStealMeasureNanos();
}
