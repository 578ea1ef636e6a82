package dev.stealtime.tck.x86;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.STEAL;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static dev.stealtime.tck.x86.KvmStealTime.ms;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.assertThatRecord;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.steal;

/**
 * Rule area "Steal accounting". Always on deltas: the first update after registering may add all
 * the run-queue delay the vCPU thread ever had (Linux never resets {@code last_steal}), so every
 * test takes its baseline after registering and an update ({@link StealTimeVcpu#settle}), and reads amounts once
 * the steal has been published (any update schedule: see {@link StealTimeVcpu}).
 */
public class StealAccountingTests extends X86TckTest {

    /** Registers a zeroed structure at {@code gpa} and runs once: the baseline. */
    private Snapshot registerAndRun(StealTimeVm vm, StealTimeVcpu cpu, long gpa) {
        return Evidence.step("configure: zero and register " + hex(gpa | ENABLE) + ", run once (baseline)", () -> {
            vm.zeroStructure(gpa);
            cpu.enable(gpa);
            return cpu.settle(gpa, "baseline (after registering and an update)");
        });
    }

    /** The guest stores {@code value} in steal while the vCPU is stopped (a single 8-byte write). */
    private static void guestStoresSteal(StealTimeVm vm, long gpa, long value) {
        vm.memory().write(gpa + STEAL, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array());
    }

    /**
     * Steal never decreases over a mixed workload. With an exact provider preemptions of 3 s
     * (virtual, less than 2^32 ns each) carry it across 32-bit boundaries; with a measured one the
     * guest seeds it four preemptions below 2^32 (when the provider accumulates in guest memory)
     * and the workload carries it across.
     */
    @TckRule(RuleIds.X86_STEAL_MONOTONIC)
    @Test(groups = Level.REQUIRED_GROUP)
    public void X86_STEAL_MONOTONIC_stealNeverDecreasesWhileEnabled() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(30);
        Snapshot previous = registerAndRun(vm, cpu, gpa);
        StringBuilder seq = new StringBuilder(String.format("%-34s %s%n", "when", "steal"));
        seq.append(String.format("%-34s %s%n", previous.when(), Long.toUnsignedString(steal(previous))));
        Duration p = preemption(Duration.ofMillis(2));
        try {
            if (!timing().exact()) {
                // four preemptions below 2^32: the check below stays under it, the workload then crosses it
                long seed = (1L << 32) - 4 * p.toNanos();
                if (Long.compareUnsigned(seed, steal(previous)) > 0) {
                    guestStoresSteal(vm, gpa, seed);
                    cpu.preempt(p);
                    Snapshot seeded = cpu.runUntil(gpa, "after seeding " + hex(seed) + " + preempt/run", s -> steal(s) != seed);
                    boolean kept = Long.compareUnsigned(steal(seeded), seed) >= 0;
                    seq.append(String.format("guest seeded %s: %s%n", hex(seed), kept ? "kept" : "not kept (no accumulation in guest memory)"));
                    seq.append(String.format("%-34s %s%n", seeded.when(), Long.toUnsignedString(steal(seeded))));
                    previous = seeded;   // monotonic from here: the guest's own store is not the hypervisor's doing
                }
            }
            List<Op> ops = new ArrayList<>();
            Duration big = Duration.ofSeconds(3);
            if (timing().exact()) {
                ops.add(new Op("preempt 3 s (virtual) + run", c -> c.preemptThenRun(big)));
                ops.add(new Op("preempt 3 s (virtual) + run, again", c -> c.preemptThenRun(big)));
            }
            ops.addAll(mixedWorkload(2));
            if (timing().exact()) {
                ops.add(new Op("preempt 3 s (virtual) + run, third", c -> c.preemptThenRun(big)));
            }
            for (int i = 1; i <= 4; i++) {
                ops.add(new Op("preempt " + ms(p) + " + run #" + i, c -> c.preemptThenRun(p)));
            }
            for (Op op : ops) {
                op.on(cpu);
                Snapshot now = cpu.snapshot(gpa, "after " + op.name());
                seq.append(String.format("%-34s %s%n", now.when(), Long.toUnsignedString(steal(now))));
                assertThatRecord(now).hasStealNotBelow(previous);
                previous = now;
            }
        } finally {
            Evidence.text("steal after each step", seq.toString());
        }
    }

    /** preempt(d): steal grows by at least d and by no more than the host measured (± tolerance). */
    @TckRule(RuleIds.X86_STEAL_ACCOUNTS)
    @Test(groups = Level.REQUIRED_GROUP)
    public void X86_STEAL_ACCOUNTS_stealGrowsByTheInducedDelayAndNoMoreThanTheHostMeasured() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(32);
        registerAndRun(vm, cpu, gpa);
        Duration d = preemption(Duration.ofMillis(20));
        long tol = tolerance();
        StringBuilder table = new StringBuilder(String.format("%-8s %14s %14s %14s%n", "round", "induced ns", "host ns", "steal ns"));
        try {
            for (int i = 1; i <= 3; i++) {
                StealTimeVcpu.Measured m = cpu.measure(gpa, "preempt " + ms(d) + " + run #" + i, d.toNanos() - tol, () -> cpu.preempt(d));
                table.append(String.format("%-8d %,14d %,14d %,14d%n", i, d.toNanos(), m.hostNanos(), steal(m.after()) - steal(m.before())));
                assertThatRecord(m.after()).hasStealDeltaBetween(m.before(), d.toNanos() - tol, m.hostNanos() + tol,
                        String.format("at least the induced %s, at most the host's measure %,d ns, tolerance %,d ns", ms(d), m.hostNanos(), tol));
            }
        } finally {
            Evidence.text("induced, measured and reported steal", table.toString());
        }
    }

    /** A known preemption shows at nanosecond scale: 3 ms is about 3,000,000, not 3,000 (µs) or 3 (ms ticks). */
    @TckRule(RuleIds.X86_STEAL_NANOSECONDS)
    @Test(groups = Level.REQUIRED_GROUP)
    public void X86_STEAL_NANOSECONDS_aKnownDelayShowsAtNanosecondScale() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(34);
        registerAndRun(vm, cpu, gpa);
        long tol = tolerance();
        StringBuilder table = new StringBuilder(String.format("%-10s %14s %14s%n", "induced", "host ns", "steal delta"));
        try {
            for (Duration induced : new Duration[]{Duration.ofMillis(3), Duration.ofMillis(7)}) {
                Duration d = preemption(induced);
                StealTimeVcpu.Measured m = cpu.measure(gpa, "preempt " + ms(d) + " + run", d.toNanos() - tol, () -> cpu.preempt(d));
                table.append(String.format("%-10s %,14d %,14d%n", ms(d), m.hostNanos(), steal(m.after()) - steal(m.before())));
                assertThatRecord(m.after()).hasStealDeltaBetween(m.before(), d.toNanos() - tol, 10 * (m.hostNanos() + tol),
                        String.format("a %s preemption is %,d ns: the delta must be of that order (%,d would be microseconds, %,d milliseconds)",
                                ms(d), d.toNanos(), d.toNanos() / 1000, d.toMillis()));
            }
        } finally {
            Evidence.text("steal per known preemption", table.toString());
        }
    }

    /** idle(d) — halted while the host CPU is contended — adds no steal (within tolerance). */
    @TckRule(RuleIds.X86_IDLE_EXCLUDED)
    @Test(groups = Level.REQUIRED_GROUP)
    public void X86_IDLE_EXCLUDED_haltedTimeAddsNoSteal() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(36);
        registerAndRun(vm, cpu, gpa);
        Duration d = preemption(Duration.ofMillis(20));
        long tol = tolerance();
        for (int i = 1; i <= 2; i++) {
            int round = i;
            Evidence.step("idle " + ms(d) + " #" + round, () -> {
                StealTimeVcpu.Measured m = cpu.measure(gpa, "idle " + ms(d) + " #" + round, 0, () -> cpu.idle(d));
                // any steal reported must be run delay the host really measured (e.g. waiting for the
                // CPU after the wake-up), never the halted time itself
                assertThatRecord(m.after()).hasStealDeltaBetween(m.before(), Long.MIN_VALUE, m.hostNanos() + tol,
                        String.format("halted %s is not steal, even though the host CPU was contended meanwhile "
                                + "(host measured %,d ns of run delay, tolerance %,d ns)", ms(d), m.hostNanos(), tol));
            });
        }
    }

    /**
     * Updates add to the value found in guest memory: the guest replaces steal (as a migration
     * would, with the source's total) and the next update continues from that value, upwards or
     * downwards.
     */
    @TckRule(RuleIds.X86_ACCUMULATES_IN_MEMORY)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_ACCUMULATES_IN_MEMORY_updatesAddToTheValueInGuestMemory() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(38);
        Snapshot baseline = registerAndRun(vm, cpu, gpa);
        Duration d = preemption(Duration.ofMillis(3));
        long tol = tolerance();
        long up = steal(baseline) + (1L << 31);
        long down = up - (1L << 30);
        StringBuilder table = new StringBuilder();
        try {
            for (long seed : new long[]{up, down}) {
                Evidence.step("guest stores steal = " + hex(seed) + ", then preempt " + ms(d) + " + run", () -> {
                    guestStoresSteal(vm, gpa, seed);
                    Snapshot seeded = cpu.snapshot(gpa, "after the guest stored " + hex(seed));
                    long host0 = cpu.hostSteal();
                    cpu.preempt(d);
                    Snapshot now = cpu.runUntil(gpa, "after preempt + run", s -> steal(s) != seed);
                    long hostDelta = cpu.hostSteal() - host0;
                    table.append(String.format("guest stored %s -> hypervisor wrote %s (host measured %,d ns)%n", hex(seed), hex(steal(now)), hostDelta));
                    assertThatRecord(now).hasStealDeltaBetween(seeded, 1, hostDelta + tol + 1_000_000_000L,
                            "the update must add to the " + hex(seed) + " found in guest memory, not replace it with the hypervisor's own total");
                });
            }
        } finally {
            Evidence.text("accumulator in guest memory", table.toString());
        }
    }
}
