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
 * <p>The hypervisor updates a structure only while the vCPU enters the guest (Linux: on vCPU load),
 * so between two workload calls it is stable and a snapshot is a completed update.
 */
public abstract class X86TckTest extends TckTest {

    @Override
    protected final Architecture architecture() {
        return Architecture.X86_64;
    }

    /** One case of {@link #placesAndPaths()}: named in the report, NOT APPLICABLE without its capabilities. */
    protected void requireCase(Place place, Path path) {
        Evidence.parameter("address", place);
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

    /** Named places for a structure: low RAM, the last 64 bytes of low RAM, above 4 GiB. */
    protected enum Place {
        LOW("low RAM", GuestLayout.low(2)),
        EDGE("last 64 bytes of low RAM", GuestLayout.LOW_EDGE),
        HIGH("above 4 GiB", GuestLayout.HIGH_SLOT);

        final String label;
        final long gpa;

        Place(String label, long gpa) {
            this.label = label;
            this.gpa = gpa;
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
        long d = Math.max(timing().scaled(base).toNanos(), 5 * tolerance());
        return Duration.ofNanos(d);
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
     * Measures {@code workload}: the host's measure is read first, then one guest entry (an update)
     * sets the baseline, then the workload runs. Reading the host first matters on real
     * schedulers: run delay the vCPU thread accrues after that entry lands in the next steal
     * update, so the host's measure must cover it too.
     */
    protected Measured measure(Vm vm, X86Vcpu cpu, long gpa, String workload, Runnable body) {
        long host = cpu.hostStealMeasureNanos();
        cpu.run(shortRun());
        Snapshot before = record(vm, cpu, gpa, "before " + workload);
        body.run();
        long hostDelta = cpu.hostStealMeasureNanos() - host;
        return new Measured(before, record(vm, cpu, gpa, "after " + workload), hostDelta);
    }

    /** The vCPU is kept off its CPU for {@code d}, then runs briefly: the update shows the steal. */
    protected void preemptThenRun(X86Vcpu cpu, Duration d) {
        cpu.preempt(d);
        cpu.run(shortRun());
    }

    /** Reader threads for a race: the other CPUs, at least one, at most three. */
    protected static int raceReaders() {
        return Math.max(1, Math.min(3, Runtime.getRuntime().availableProcessors() - 1));
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
        Duration idle = timing().scaled(Duration.ofMillis(2));
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
