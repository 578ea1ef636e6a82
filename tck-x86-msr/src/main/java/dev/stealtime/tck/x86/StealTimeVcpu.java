package dev.stealtime.tck.x86;

import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.Snapshot;
import dev.stealtime.tck.support.Timing;

import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;

import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.MSR;
import static dev.stealtime.tck.x86.KvmStealTime.SIZE;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static dev.stealtime.tck.x86.KvmStealTime.ms;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * One x86 vCPU seen through its steal-time interface: {@code MSR_KVM_STEAL_TIME} written and read by
 * the guest and by the VMM, the structure in guest memory, the workload, and the waits for an update.
 * Every call goes through the SPI.
 *
 * <p><b>Update schedule.</b> Seed 000: "The interval between updates of this structure is arbitrary
 * and implementation-dependent. The hypervisor may update this structure at any time it sees fit".
 * So no test (except {@code X86-UPDATE-EVERY-ENTRY}, linux-abi) expects an update on a particular
 * guest entry. A test that needs steal to be published drives the vCPU with short runs until it
 * shows ({@link #runUntil}), up to the {@linkplain #UPDATE_BOUND_ENTRIES update bound}, and fails
 * only when nothing lands within it. Amounts are asserted on what has been published, from a settled
 * baseline ({@link #settle}). Linux KVM updates on every entry after the vCPU was scheduled in, so
 * against it every wait ends after one entry.
 *
 * <p>The TCK takes a snapshot only between two SPI calls on the vCPU; an update the hypervisor makes
 * at that moment (from another thread) would show as an odd version, which the tests report.
 */
public final class StealTimeVcpu {

    /** The update bound, in guest entries: a wait for an update gives up only after this many short runs... */
    public static final int UPDATE_BOUND_ENTRIES = 16;
    /** ...and only once this much time (scaled by the timing multiplier) has passed since it started. */
    public static final Duration UPDATE_BOUND_TIME = Duration.ofMillis(50);

    private final X86Vcpu vcpu;
    private final Vm vm;
    private final Supplier<Timing> timing;

    /**
     * The VM's memory and the timing are looked up at each use, as the tests always did: a wait for an
     * update makes as many guest entries in its time bound as before (with a hypervisor that never
     * publishes enough, that number is what the wait observes).
     */
    StealTimeVcpu(X86Vcpu vcpu, Vm vm, Supplier<Timing> timing) {
        this.vcpu = vcpu;
        this.vm = vm;
        this.timing = timing;
    }

    public int index() {
        return vcpu.index();
    }

    // ---- MSR_KVM_STEAL_TIME: the guest's WRMSR/RDMSR, the VMM's KVM_SET_MSRS/KVM_GET_MSRS ----

    /** Guest WRMSR of {@code value}: the result, or #GP. */
    public MsrResult guestWrmsr(long value) {
        return vcpu.guestWrmsr(MSR, value);
    }

    /** Guest RDMSR: the value, or #GP. */
    public MsrResult guestRdmsr() {
        return vcpu.guestRdmsr(MSR);
    }

    /** The VMM's {@code KVM_SET_MSRS}: true when the hypervisor took the value. */
    public boolean hostSetMsr(long value) {
        return vcpu.hostSetMsr(MSR, value);
    }

    /** The VMM's {@code KVM_GET_MSRS}. */
    public long hostGetMsr() {
        return vcpu.hostGetMsr(MSR);
    }

    /** Guest WRMSR of {@code gpa | 1}; a fault fails the test (the value is valid). */
    public void enable(long gpa) {
        MsrResult r = guestWrmsr(gpa | ENABLE);
        assertThat(r.faulted()).as("guest WRMSR(MSR_KVM_STEAL_TIME, %s) on vCPU %d, registering a structure in RAM, must not #GP",
                hex(gpa | ENABLE), index()).isFalse();
    }

    /** Guest WRMSR of a valid value; a fault fails the test. */
    public void writeValid(long value) {
        MsrResult r = guestWrmsr(value);
        assertThat(r.faulted()).as("guest WRMSR(MSR_KVM_STEAL_TIME, %s) on vCPU %d (a valid value) must not #GP",
                hex(value), index()).isFalse();
    }

    /** Guest RDMSR; a fault fails the test. */
    public long rdmsr() {
        MsrResult r = guestRdmsr();
        assertThat(r.faulted()).as("guest RDMSR(MSR_KVM_STEAL_TIME) on vCPU %d must not #GP", index()).isFalse();
        return r.value();
    }

    /** CPUID {@code leaf} (enters the guest). */
    public CpuidResult cpuid(int leaf) {
        return vcpu.cpuid(leaf);
    }

    // ---- the structure in guest memory ----

    /**
     * The 64 bytes at {@code gpa} as a guest reader takes them: the version read before the copy
     * equals the copy's, and is even. Where the guest keeps running between calls (the test guest
     * under QEMU polls its serial port, and any entry may carry an update) a copy can fall inside an
     * update; it is taken again for up to {@value #CONSISTENT_READ_TOLERANCES} times the provider's
     * tolerance. A version still odd by then is returned as read: an update that never completed.
     * With exact timing (nothing runs between calls) one copy is taken.
     */
    public Snapshot snapshot(long gpa, String when) {
        long deadline = System.nanoTime() + CONSISTENT_READ_TOLERANCES * timing.get().toleranceNanos();
        while (true) {
            int before = timing.get().exact() ? 0 : Snapshot.take(vm.memory(), when, index(), gpa + 8, 4).u32(0);
            Snapshot s = Snapshot.take(vm.memory(), when, index(), gpa, SIZE);
            int version = s.u32(8);
            if (timing.get().exact() || (version == before && (version & 1) == 0) || System.nanoTime() - deadline >= 0) {
                return s;
            }
        }
    }

    /** How long {@link #snapshot} retries a copy caught inside an update, in provider tolerances. */
    static final int CONSISTENT_READ_TOLERANCES = 10;

    // ---- the workload ----

    public void run(Duration d) {
        vcpu.run(d);
    }

    /** A short guest run: lets the vCPU enter the guest (and so the hypervisor update). */
    public void runBriefly() {
        vcpu.run(shortRun());
    }

    /** Runnable but kept off the CPU for {@code d}: steal. */
    public void preempt(Duration d) {
        vcpu.preempt(d);
    }

    /** Halted for {@code d} while the host CPU is contended: not steal. */
    public void idle(Duration d) {
        vcpu.idle(d);
    }

    /** The host's own cumulative measure of this vCPU's involuntary wait (ns). */
    public long hostSteal() {
        return vcpu.hostStealMeasureNanos();
    }

    /** The vCPU is kept off its CPU for {@code d}, then runs briefly (one guest entry, which may or may not carry an update). */
    public void preemptThenRun(Duration d) {
        preempt(d);
        runBriefly();
    }

    /** The length of a short guest run, about 1 ms scaled by the timing multiplier. */
    private Duration shortRun() {
        return timing.get().scaled(Duration.ofMillis(1));
    }

    // ---- the update bound ----

    /** The update bound as the failure messages state it. */
    String updateBound() {
        return UPDATE_BOUND_ENTRIES + " guest entries and " + ms(timing.get().scaled(UPDATE_BOUND_TIME));
    }

    /**
     * Enters the guest with short runs until {@code landed} holds for the structure at {@code gpa}:
     * checked before the first run (an update may already have landed, e.g. on the entry that
     * executed the guest's WRMSR, or during a preemption) and after each one, until both
     * {@link #UPDATE_BOUND_ENTRIES} entries and {@link #UPDATE_BOUND_TIME} (scaled) have passed.
     * Returns the snapshot that satisfied it, or the last one taken when the bound ran out: its
     * {@code when} says which, so the caller's assertion on it explains itself ("..., not seen within
     * the update bound of 16 guest entries and 50 ms").
     */
    public Snapshot runUntil(long gpa, String what, Predicate<Snapshot> landed) {
        return runUntil(gpa, what, landed, s -> { });
    }

    /**
     * As {@link #runUntil(long, String, Predicate)}, handing every snapshot it takes (before the
     * first run and after each one) to {@code observer} first, so a rule can judge every observation
     * of the wait, not only the one that ended it.
     */
    public Snapshot runUntil(long gpa, String what, Predicate<Snapshot> landed, Consumer<Snapshot> observer) {
        long deadline = System.nanoTime() + timing.get().scaled(UPDATE_BOUND_TIME).toNanos();
        int entries = 0;
        while (true) {
            Snapshot s = snapshot(gpa, entries == 0 ? what + " (before running)" : what + " (guest entry " + entries + ")");
            observer.accept(s);
            s = relabel(s, what);
            if (landed.test(s)) {
                return entries <= 1 ? s : relabel(s, what + " (" + entries + " guest entries)");
            }
            if (entries >= UPDATE_BOUND_ENTRIES && System.nanoTime() - deadline >= 0) {
                return relabel(s, what + ", not seen within the update bound of " + updateBound());
            }
            runBriefly();
            entries++;
        }
    }

    private static Snapshot relabel(Snapshot s, String when) {
        return new Snapshot(when, s.vcpu(), s.gpa(), s.bytes());
    }

    /** Runs until an update shows (steal or version changed since {@code since}), within the update bound. */
    public Snapshot runUntilUpdated(long gpa, Snapshot since, String what) {
        return runUntil(gpa, what, s -> StealTimeRecordAssert.steal(s) != StealTimeRecordAssert.steal(since)
                || StealTimeRecordAssert.version(s) != StealTimeRecordAssert.version(since));
    }

    /** Runs until published steal is above {@code since}'s, within the update bound. */
    public Snapshot runUntilStealAbove(long gpa, Snapshot since, String what) {
        return runUntil(gpa, what, s -> Long.compareUnsigned(StealTimeRecordAssert.steal(s), StealTimeRecordAssert.steal(since)) > 0);
    }

    /** Runs until published steal has grown by at least {@code min} ns since {@code since}, within the update bound. */
    public Snapshot runUntilStealGrew(long gpa, Snapshot since, long min, String what) {
        return runUntil(gpa, what, s -> StealTimeRecordAssert.steal(s) - StealTimeRecordAssert.steal(since) >= Math.max(1, min));
    }

    /**
     * The vCPU is kept off its CPU for {@code d}, then runs until the steal shows in the structure at
     * {@code gpa} (steal above what it was before the preemption), within the update bound.
     */
    public Snapshot preemptThenRunUntilPublished(long gpa, Duration d, String what) {
        Snapshot before = snapshot(gpa, "before " + what);
        preempt(d);
        return runUntilStealAbove(gpa, before, "after " + what);
    }

    /**
     * A settled baseline: enters the guest until an update lands (the version changes), within the
     * update bound, so that steal accrued before this call has been published (an update publishes
     * all steal accrued up to it; seed 000: steal is "the amount of time in which this vCPU did not
     * run"). A hypervisor that skips updates with nothing to publish simply lets the bound run out.
     */
    public Snapshot settle(long gpa, String what) {
        Snapshot now = snapshot(gpa, what);
        int version = StealTimeRecordAssert.version(now);
        return runUntil(gpa, what, s -> StealTimeRecordAssert.version(s) != version);
    }

    /**
     * A workload measured for a steal delta: {@code before} is the structure after a baseline guest
     * entry, {@code after} the structure once the workload is done, {@code hostNanos} the host's
     * measure over both.
     */
    public record Measured(Snapshot before, Snapshot after, long hostNanos) {
    }

    /**
     * Measures {@code workload}: the host's measure is read first, then the baseline is settled
     * ({@link #settle}: guest entries until an update lands), then the workload runs, then guest
     * entries until the steal published since the baseline reaches {@code expectAtLeast} ns (within
     * the update bound; 0: until an update has landed since the baseline), and only then is the host's measure read again.
     * Reading the host first matters on real schedulers: run delay the vCPU thread accrues after
     * the baseline lands in a later update, so the host's measure must cover it too; and reading it
     * last covers the entries that published the steal.
     */
    public Measured measure(long gpa, String workload, long expectAtLeast, Runnable body) {
        long host = hostSteal();
        Snapshot before = settle(gpa, "before " + workload);
        body.run();
        Snapshot after = expectAtLeast > 0
                ? runUntilStealGrew(gpa, before, expectAtLeast, "after " + workload)
                : runUntil(gpa, "after " + workload, s -> StealTimeRecordAssert.version(s) != StealTimeRecordAssert.version(before));
        long hostDelta = hostSteal() - host;
        return new Measured(before, after, hostDelta);
    }

    @Override
    public String toString() {
        return "vCPU " + index();
    }
}
