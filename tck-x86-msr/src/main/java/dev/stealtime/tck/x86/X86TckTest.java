package dev.stealtime.tck.x86;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.support.Snapshot;
import dev.stealtime.tck.support.TckTest;

import org.testng.annotations.DataProvider;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.MSR;
import static dev.stealtime.tck.x86.KvmStealTime.SIZE;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Base of the x86 suite: the vocabulary the tests are written in (register a structure, let the
 * vCPU run, be preempted or idle, take a snapshot of the structure), with durations that suit both
 * an exact provider (virtual time: free) and a measured one (real KVM: modest, scaled by the
 * configured multiplier, and long enough to stand out against the declared tolerance).
 *
 * <p><b>Update schedule.</b> Seed 000: "The interval between updates of this structure is arbitrary
 * and implementation-dependent. The hypervisor may update this structure at any time it sees fit".
 * So no test here (except {@code X86-UPDATE-EVERY-ENTRY}, linux-abi) expects an update on a
 * particular guest entry. A test that needs steal to be published drives the vCPU with short runs
 * until it shows ({@link #runUntil}), up to the {@linkplain #UPDATE_BOUND_ENTRIES update bound}, and
 * fails only when nothing lands within it. Amounts are asserted on what has been published, from a
 * settled baseline ({@link #settle}). Linux KVM updates on every entry after the vCPU was scheduled
 * in, so against it every wait ends after one entry.
 *
 * <p>The TCK takes a snapshot only between two SPI calls on the vCPU; an update the hypervisor makes
 * at that moment (from another thread) would show as an odd version, which the tests report.
 */
public abstract class X86TckTest extends TckTest {

    @Override
    protected final Architecture architecture() {
        return Architecture.X86_64;
    }

    /** One case of {@link #placesAndPaths()}: named in the report, NOT APPLICABLE without its capabilities. */
    protected void requireCase(Place place, Path path) {
        Evidence.parameter("address", place.label + " (" + hex(place.gpa(layout())) + ")");
        Evidence.parameter("path", path);
        require(place);
        require(path);
    }

    /** Every {@link Place} × every {@link Path}: where a value is written, and by whom. */
    @DataProvider
    public Object[][] placesAndPaths() {
        List<Object[]> cases = new ArrayList<>();
        for (Place place : Place.values()) {
            for (Path path : Path.values()) {
                cases.add(new Object[]{place, path});
            }
        }
        return cases.toArray(Object[][]::new);
    }

    // ---- VMs, vCPUs, structures ---------------------------------------------------------------

    protected static X86Vcpu x86(Vm vm, int index) {
        return (X86Vcpu) vm.vcpu(index);
    }

    /** A one-vCPU VM on the standard layout. */
    protected Vm openVm() {
        return openVm(1);
    }

    /** The guest zeroes the 64 bytes before registering them, as the document requires. */
    protected static void zeroStructure(Vm vm, long gpa) {
        vm.memory().write(gpa, new byte[SIZE]);
    }

    /**
     * Before a write of {@code value} that registers a structure in RAM (bit 0 set, its 64 bytes in
     * guest RAM), the guest zeroes them, as it must before every registration. Nothing otherwise.
     */
    protected static void zeroIfRegistering(Vm vm, long value) {
        long gpa = value & ~0x3FL;
        if ((value & ENABLE) != 0 && vm.spec().inRam(gpa, SIZE)) {
            zeroStructure(vm, gpa);
        }
    }

    protected static Snapshot record(Vm vm, X86Vcpu cpu, long gpa, String when) {
        return Snapshot.take(vm.memory(), when, cpu.index(), gpa, SIZE);
    }

    /** Guest WRMSR of {@code gpa | 1}; a fault fails the test (the value is valid). */
    protected static void enable(X86Vcpu cpu, long gpa) {
        MsrResult r = cpu.guestWrmsr(MSR, gpa | ENABLE);
        assertThat(r.faulted()).as("guest WRMSR(MSR_KVM_STEAL_TIME, %s) on vCPU %d, registering a structure in RAM, must not #GP",
                hex(gpa | ENABLE), cpu.index()).isFalse();
    }

    /** Guest WRMSR of a valid value; a fault fails the test. */
    protected static void writeValid(X86Vcpu cpu, long value) {
        MsrResult r = cpu.guestWrmsr(MSR, value);
        assertThat(r.faulted()).as("guest WRMSR(MSR_KVM_STEAL_TIME, %s) on vCPU %d (a valid value) must not #GP",
                hex(value), cpu.index()).isFalse();
    }

    /** The MSR written through the path a data-driven case names: the guest's WRMSR or the VMM's set. */
    protected enum Path {
        GUEST("guest WRMSR"), HOST("host KVM_SET_MSRS");

        final String label;

        Path(String label) {
            this.label = label;
        }

        /** True when the hypervisor accepted the value. */
        boolean write(X86Vcpu cpu, long value) {
            return this == GUEST ? !cpu.guestWrmsr(MSR, value).faulted() : cpu.hostSetMsr(MSR, value);
        }

        /** The MSR read back through the same path. */
        long read(X86Vcpu cpu) {
            if (this == HOST) {
                return cpu.hostGetMsr(MSR);
            }
            MsrResult r = cpu.guestRdmsr(MSR);
            assertThat(r.faulted()).as("guest RDMSR(MSR_KVM_STEAL_TIME) on vCPU %d must not #GP", cpu.index()).isFalse();
            return r.value();
        }

        @Override
        public String toString() {
            return label;
        }
    }

    /** NOT APPLICABLE unless the provider can take the path. */
    protected void require(Path path) {
        if (path == Path.HOST) {
            require(Capability.HOST_MSR_ACCESS);
        }
    }

    /**
     * Named places for a structure: low RAM, the last 64 bytes of low RAM, above 4 GiB. The name
     * shows the address at layout base 0; {@link #gpa(GuestLayout)} is the address in a layout.
     */
    protected enum Place {
        LOW("low RAM", GuestLayout.low(2)),
        EDGE("last 64 bytes of low RAM", GuestLayout.LOW_EDGE),
        HIGH("above 4 GiB", GuestLayout.HIGH_SLOT);

        final String label;
        private final long gpa;

        Place(String label, long gpa) {
            this.label = label;
            this.gpa = gpa;
        }

        /** The address in {@code layout}: low places move with its base, the high one stays at 4 GiB. */
        long gpa(GuestLayout layout) {
            return this == HIGH ? gpa : layout.base() + gpa;
        }

        @Override
        public String toString() {
            return label + " (" + hex(gpa) + ")";
        }
    }

    protected void require(Place place) {
        if (place == Place.HIGH) {
            require(Capability.HIGH_MEMORY);
        }
    }

    // ---- durations ------------------------------------------------------------------------------

    /** Slack on each timing bound, ns (0 with an exact provider: bounds are equalities). */
    protected long tolerance() {
        return timing().toleranceNanos();
    }

    /** A short guest run: lets the vCPU enter the guest (and so the hypervisor update). */
    protected Duration shortRun() {
        return timing().scaled(Duration.ofMillis(1));
    }

    /**
     * A preemption of about {@code base} (scaled), and at least five times the tolerance so the
     * steal it causes stands out against the slack of a measured provider.
     */
    protected Duration preemption(Duration base) {
        return timing().measurable(base);
    }

    protected static String ms(Duration d) {
        return d.toNanos() % 1_000_000 == 0 ? d.toMillis() + " ms" : String.format("%.3f ms", d.toNanos() / 1e6);
    }

    /**
     * A workload measured for a steal delta: {@code before} is the structure after a baseline guest
     * entry, {@code after} the structure once the workload is done, {@code hostNanos} the host's
     * measure over both.
     */
    protected record Measured(Snapshot before, Snapshot after, long hostNanos) {
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
    protected Measured measure(Vm vm, X86Vcpu cpu, long gpa, String workload, long expectAtLeast, Runnable body) {
        long host = cpu.hostStealMeasureNanos();
        Snapshot before = settle(vm, cpu, gpa, "before " + workload);
        body.run();
        Snapshot after = expectAtLeast > 0
                ? runUntilStealGrew(vm, cpu, gpa, before, expectAtLeast, "after " + workload)
                : runUntil(vm, cpu, gpa, "after " + workload, s -> StealTimeRecordAssert.version(s) != StealTimeRecordAssert.version(before));
        long hostDelta = cpu.hostStealMeasureNanos() - host;
        return new Measured(before, after, hostDelta);
    }

    /** The vCPU is kept off its CPU for {@code d}, then runs briefly (one guest entry, which may or may not carry an update). */
    protected void preemptThenRun(X86Vcpu cpu, Duration d) {
        cpu.preempt(d);
        cpu.run(shortRun());
    }

    // ---- the update bound -----------------------------------------------------------------------

    /** The update bound, in guest entries: a wait for an update gives up only after this many short runs... */
    public static final int UPDATE_BOUND_ENTRIES = 16;
    /** ...and only once this much time (scaled by the timing multiplier) has passed since it started. */
    public static final Duration UPDATE_BOUND_TIME = Duration.ofMillis(50);

    /** The update bound as the failure messages state it. */
    protected String updateBound() {
        return UPDATE_BOUND_ENTRIES + " guest entries and " + ms(timing().scaled(UPDATE_BOUND_TIME));
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
    protected Snapshot runUntil(Vm vm, X86Vcpu cpu, long gpa, String what, java.util.function.Predicate<Snapshot> landed) {
        return runUntil(vm, cpu, gpa, what, landed, s -> { });
    }

    /**
     * As {@link #runUntil(Vm, X86Vcpu, long, String, java.util.function.Predicate)}, handing every
     * snapshot it takes (before the first run and after each one) to {@code observer} first, so a
     * rule can judge every observation of the wait, not only the one that ended it.
     */
    protected Snapshot runUntil(Vm vm, X86Vcpu cpu, long gpa, String what, java.util.function.Predicate<Snapshot> landed,
                                java.util.function.Consumer<Snapshot> observer) {
        long deadline = System.nanoTime() + timing().scaled(UPDATE_BOUND_TIME).toNanos();
        int entries = 0;
        while (true) {
            Snapshot s = record(vm, cpu, gpa, entries == 0 ? what + " (before running)" : what + " (guest entry " + entries + ")");
            observer.accept(s);
            s = relabel(s, what);
            if (landed.test(s)) {
                return entries <= 1 ? s : relabel(s, what + " (" + entries + " guest entries)");
            }
            if (entries >= UPDATE_BOUND_ENTRIES && System.nanoTime() - deadline >= 0) {
                return relabel(s, what + ", not seen within the update bound of " + updateBound());
            }
            cpu.run(shortRun());
            entries++;
        }
    }

    private static Snapshot relabel(Snapshot s, String when) {
        return new Snapshot(when, s.vcpu(), s.gpa(), s.bytes());
    }

    /** Runs until an update shows (steal or version changed since {@code since}), within the update bound. */
    protected Snapshot runUntilUpdated(Vm vm, X86Vcpu cpu, long gpa, Snapshot since, String what) {
        return runUntil(vm, cpu, gpa, what, s -> StealTimeRecordAssert.steal(s) != StealTimeRecordAssert.steal(since)
                || StealTimeRecordAssert.version(s) != StealTimeRecordAssert.version(since));
    }

    /** Runs until published steal is above {@code since}'s, within the update bound. */
    protected Snapshot runUntilStealAbove(Vm vm, X86Vcpu cpu, long gpa, Snapshot since, String what) {
        return runUntil(vm, cpu, gpa, what, s -> Long.compareUnsigned(StealTimeRecordAssert.steal(s), StealTimeRecordAssert.steal(since)) > 0);
    }

    /** Runs until published steal has grown by at least {@code min} ns since {@code since}, within the update bound. */
    protected Snapshot runUntilStealGrew(Vm vm, X86Vcpu cpu, long gpa, Snapshot since, long min, String what) {
        return runUntil(vm, cpu, gpa, what, s -> StealTimeRecordAssert.steal(s) - StealTimeRecordAssert.steal(since) >= Math.max(1, min));
    }

    /**
     * The vCPU is kept off its CPU for {@code d}, then runs until the steal shows in the structure at
     * {@code gpa} (steal above what it was before the preemption), within the update bound.
     */
    protected Snapshot preemptThenRunUntilPublished(Vm vm, X86Vcpu cpu, long gpa, Duration d, String what) {
        Snapshot before = record(vm, cpu, gpa, "before " + what);
        cpu.preempt(d);
        return runUntilStealAbove(vm, cpu, gpa, before, "after " + what);
    }

    /**
     * A settled baseline: enters the guest until an update lands (the version changes), within the
     * update bound, so that steal accrued before this call has been published (an update publishes
     * all steal accrued up to it; seed 000: steal is "the amount of time in which this vCPU did not
     * run"). A hypervisor that skips updates with nothing to publish simply lets the bound run out.
     */
    protected Snapshot settle(Vm vm, X86Vcpu cpu, long gpa, String what) {
        Snapshot now = record(vm, cpu, gpa, what);
        int version = StealTimeRecordAssert.version(now);
        return runUntil(vm, cpu, gpa, what, s -> StealTimeRecordAssert.version(s) != version);
    }

    /** Reader threads for a race ({@link dev.stealtime.tck.support.race.RaceSpec#READERS}, shared with the arm64 suite). */
    protected static int raceReaders() {
        return dev.stealtime.tck.support.race.RaceSpec.READERS;
    }

    // ---- workloads ------------------------------------------------------------------------------

    /** One thing the vCPU does; each ends with the guest having been entered (a completed update). */
    protected record Op(String name, java.util.function.Consumer<X86Vcpu> action) {
        void on(X86Vcpu cpu) {
            action.accept(cpu);
        }
    }

    /**
     * A mixed workload of {@code rounds} rounds of: preempt then run, run, idle (a halt while the
     * host CPU is contended), CPUID and RDMSR (each enters the guest).
     */
    protected List<Op> mixedWorkload(int rounds) {
        Duration p = preemption(Duration.ofMillis(2));
        Duration idle = preemption(Duration.ofMillis(2));
        List<Op> ops = new ArrayList<>();
        for (int i = 1; i <= rounds; i++) {
            ops.add(new Op("preempt " + ms(p) + " + run #" + i, c -> preemptThenRun(c, p)));
            ops.add(new Op("run #" + i, c -> c.run(shortRun())));
            ops.add(new Op("idle " + ms(idle) + " #" + i, c -> c.idle(idle)));
            ops.add(new Op("CPUID #" + i, c -> c.cpuid(KvmStealTime.CPUID_KVM_FEATURES)));
            ops.add(new Op("RDMSR #" + i, c -> c.guestRdmsr(MSR)));
        }
        return ops;
    }

    /** Runs {@code body} as a report step. */
    protected static void step(String name, Runnable body) {
        Evidence.step(name, body);
    }

    protected static <T> T step(String name, java.util.function.Supplier<T> body) {
        return Evidence.step(name, body);
    }
}
