package dev.stealtime.tck.spi;

import java.time.Duration;

/**
 * One vCPU and the workload control the TCK drives it with. The same on every architecture.
 *
 * <h2>Guest entries, and when updates may land</h2>
 * These calls <b>enter the guest</b> (the vCPU runs guest code), and each of them <b>may</b> carry a
 * steal-time update: {@link #run}, {@link #preempt} (the guest is busy when the vCPU is taken off
 * its CPU and runs again at the end), {@link #idle} (the wake-up re-enters the guest), and
 * {@link X86Vcpu#guestWrmsr}, {@link X86Vcpu#guestRdmsr}, {@link X86Vcpu#cpuid},
 * {@link Arm64Vcpu#smccc}. The others ({@link #hostStealMeasureNanos}, {@link X86Vcpu#hostSetMsr},
 * {@link X86Vcpu#hostGetMsr}, the arm64 device attributes, {@link GuestMemory}) do not enter the
 * guest. A hypervisor may also update at any other moment (x86 seed: "The hypervisor may update
 * this structure at any time it sees fit"); the TCK reads a structure only between two calls on the
 * vCPU, or races it on purpose.
 * <ul>
 *   <li><b>x86</b>: no call <em>must</em> carry an update ("The interval between updates of this
 *       structure is arbitrary and implementation-dependent"). Where a test needs steal published
 *       it calls {@link #run} (about 1 ms, scaled) again and again until it shows, and fails only
 *       when nothing lands within the <em>update bound</em>: 16 guest entries and 50 ms (times the
 *       timing multiplier), whichever is later. Every update must publish all the steal accrued up
 *       to it (steal is "the amount of time in which this vCPU did not run"). Only the linux-abi
 *       rule {@code X86-UPDATE-EVERY-ENTRY} expects the steal of a preemption on the very next entry.
 *       Linux KVM: every {@code KVM_RUN} after the vCPU thread was scheduled in, or after the MSR was
 *       written, runs {@code record_steal_time} before entering the guest, so every call above
 *       updates.</li>
 *   <li><b>arm64</b>: seed 002 has the structure "updated by the hypervisor prior to scheduling a
 *       VCPU", so the first guest entry after a preemption must already show it
 *       ({@code ARM-UPDATED-BEFORE-RUN}); amounts are read after two short runs. Linux KVM:
 *       {@code kvm_update_stolen_time} on {@code KVM_REQ_RECORD_STEAL}, raised at vCPU load.</li>
 * </ul>
 * Calls on one vCPU are made from one thread at a time.
 *
 * <h2>Stores, and when counting starts</h2>
 * The hypervisor writes each field of a structure with single, naturally aligned stores: x86
 * {@code steal} with one 8-byte store (inside an odd version) and {@code version} with one 4-byte
 * store; arm64 {@code stolen_time} with one single-copy-atomic 8-byte store. The TCK reads them as a
 * guest does, with single aligned loads, while updates race it. Where the total starts (at vCPU
 * creation, at registration, at {@code PV_TIME_ST}) is the hypervisor's choice: the TCK judges only
 * how much steal grows between two of its own observations, and zeroes an x86 structure before every
 * registration (the guest's duty), so a hypervisor that restarts its own total there passes.
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
     * The vCPU stays runnable but is kept off the CPU for about {@code d}: this is steal. It may last
     * longer than {@code d} (a real scheduler), as long as {@link #hostStealMeasureNanos} counts all of
     * it. KVM: the guest is busy while a competing thread pinned to the same CPU holds it.
     *
     * <p>x86: the hypervisor may set the {@code preempted} byte (offset 16) while the vCPU is off
     * its CPU; Linux KVM sets it to 1 ({@code KVM_VCPU_PREEMPTED}) when it puts a preempted vCPU and
     * clears it on the next update. The TCK only checks that it reads 0 once the guest runs again
     * ({@code X86-PREEMPTED-CLEARED}, advisory); no other rule looks at byte 16, and seed 000's
     * structure has no such field, so never writing it is fine too.
     */
    void preempt(Duration d);

    /**
     * The guest is idle (x86 HLT, arm64 WFI) for about {@code d}, voluntarily not running; this must
     * not be steal, even though the host CPU is contended meanwhile. The wake-up enters the guest
     * again (and so may carry an update); if the woken vCPU then waits for its CPU, that wait is real
     * steal, allowed as long as {@link #hostStealMeasureNanos} counts it. KVM: the guest halts and
     * the vCPU thread blocks while a competitor hogs the CPU.
     */
    void idle(Duration d);

    /**
     * The host's own cumulative measure of this vCPU's runnable-but-not-running time, in
     * nanoseconds: the ground truth steal is checked against. Reference: exact virtual time; KVM:
     * field 2 ({@code run_delay}) of {@code /proc/<pid>/task/<tid>/schedstat} of the vCPU thread.
     */
    long hostStealMeasureNanos();
}
