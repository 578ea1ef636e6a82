package dev.stealtime.tck.x86;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.GuardBytes;
import dev.stealtime.tck.support.Observations;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.Test;

import java.time.Duration;
import java.util.List;

import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.PAD_FROM;
import static dev.stealtime.tck.x86.KvmStealTime.SIZE;
import static dev.stealtime.tck.x86.KvmStealTime.STEAL;
import static dev.stealtime.tck.x86.KvmStealTime.VERSION;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static dev.stealtime.tck.x86.KvmStealTime.ms;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.assertThatRecord;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.steal;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.version;
import static org.assertj.core.api.Assertions.assertThat;

/** Rule area "Structure layout": where the hypervisor writes, and what the fields hold. */
public class StructureLayoutTests extends X86TckTest {

    @TckRule(RuleIds.X86_LAYOUT)
    @Test(groups = Level.REQUIRED_GROUP)
    public void X86_LAYOUT_writesOnlyInside64BytesWithStealAtOffset0() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(6);
        Duration p = preemption(Duration.ofMillis(3));
        GuardBytes guard = Evidence.step("configure: canaries 256 bytes either side of " + hex(gpa) + ", structure zeroed and registered", () -> {
            GuardBytes g = GuardBytes.plant(vm.memory(), gpa - 256, 256 + SIZE + 256).except(gpa, SIZE);
            vm.zeroStructure(gpa);
            cpu.enable(gpa);
            return g;
        });
        // two complementary passes of the canaries (GuardBytes), so a write of any value shows
        for (int pass = 1; pass <= 2; pass++) {
            int n = pass;
            Snapshot start = cpu.settle(gpa, "pass " + n + ": after registering and running");
            Snapshot end = Evidence.step("pass " + n + " of 2: 3 x preempt " + ms(p) + " + run, idle, runs until the steal shows", () -> {
                for (int i = 0; i < 3; i++) {
                    cpu.preemptThenRun(p);
                }
                cpu.idle(preemption(Duration.ofMillis(2)));
                return cpu.runUntilStealAbove(gpa, start, "after 3 preemptions (pass " + n + ")");
            });
            Evidence.step("observe: nothing outside the 64 bytes, steal grew in the u64 at offset 0", () -> {
                assertThat(guard.checkAndFlip()).as("guest memory around the structure at %s (canary pass %d of 2)", hex(gpa), n).isEmpty();
                assertThatRecord(end)
                        .hasStealAbove(start, "3 preemptions of " + ms(p) + " must show in the u64 at offset 0");
            });
        }
    }

    @TckRule(RuleIds.X86_FLAGS_ZERO)
    @Test(groups = Level.REQUIRED_GROUP)
    public void X86_FLAGS_ZERO_flagsStaysZeroAcrossUpdates() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(8);
        Evidence.step("configure: zero and register " + hex(gpa | ENABLE), () -> {
            vm.zeroStructure(gpa);
            cpu.enable(gpa);
        });
        assertThatRecord(cpu.snapshot(gpa, "after registering")).hasFlags(0);
        for (Op op : mixedWorkload(3)) {
            op.on(cpu);
            assertThatRecord(cpu.snapshot(gpa, "after " + op.name())).hasFlags(0);
        }
    }

    @TckRule(RuleIds.X86_PAD_UNTOUCHED)
    @Test(groups = Level.ADVISORY_GROUP)
    public void X86_PAD_UNTOUCHED_paddingBytes20To63AreNeverWritten() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(10);
        GuardBytes pad = GuardBytes.plant(vm.memory(), gpa + PAD_FROM, SIZE - PAD_FROM);
        Snapshot planted = Evidence.step("configure: bytes 0..19 zero, canaries in bytes 20..63, register", () -> {
            vm.memory().write(gpa, new byte[PAD_FROM]);
            Snapshot s = cpu.snapshot(gpa, "as planted");
            cpu.enable(gpa);
            return s;
        });
        assertThatRecord(cpu.snapshot(gpa, "after registering")).hasPadUnchangedFrom(planted);
        for (Op op : mixedWorkload(3)) {
            op.on(cpu);
            assertThatRecord(cpu.snapshot(gpa, "after " + op.name())).hasPadUnchangedFrom(planted);
        }
        // the second of two complementary passes, so a write of any value (the canary's own too) shows
        pad.flip();
        Snapshot complemented = cpu.snapshot(gpa, "padding canaries complemented");
        for (Op op : mixedWorkload(2)) {
            op.on(cpu);
            assertThatRecord(cpu.snapshot(gpa, "after " + op.name() + " (canaries complemented)")).hasPadUnchangedFrom(complemented);
        }
    }

    /**
     * Byte order is judged at every observation, not on two snapshots: a hypervisor that stores steal
     * byte-swapped but reads it back as little-endian swaps it back on every update with nothing to
     * add, so after an even number of updates it reads right. The vCPU is stepped through four
     * preemptions, each followed by 1 to 4 guest entries of different kinds (run, CPUID, RDMSR, idle),
     * and the structure is read after every call and at every entry of the final wait for the steal
     * to show: each read must decode little-endian (steal's top bytes 6..7 zero, the version a count
     * that moves by small steps). At the end steal, read as a little-endian u64 at
     * offset 0, grew by a plausible number of nanoseconds.
     */
    @TckRule(RuleIds.X86_LITTLE_ENDIAN)
    @Test(groups = Level.REQUIRED_GROUP)
    public void X86_LITTLE_ENDIAN_everyObservationDecodesLittleEndian() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(12);
        Duration p = preemption(Duration.ofMillis(3));
        Observations seen = littleEndianObservations();
        Snapshot after;
        try {
            Evidence.step("configure: zero and register " + hex(gpa | ENABLE), () -> {
                vm.zeroStructure(gpa);
                cpu.enable(gpa);
                seen.observe(cpu.snapshot(gpa, "after registering"));
            });
            List<Op> entries = entryKinds();
            for (int round = 1; round <= 4; round++) {
                int r = round;
                Evidence.step("round " + r + ": preempt " + ms(p) + ", then " + r + " guest entries, the structure read after each call", () -> {
                    cpu.preempt(p);
                    seen.observe(cpu.snapshot(gpa, "after preempt #" + r));
                    for (int e = 0; e < r; e++) {
                        Op op = entries.get((r + e) % entries.size());
                        op.on(cpu);
                        seen.observe(cpu.snapshot(gpa, "after " + op.name() + " (round " + r + ")"));
                    }
                });
            }
            after = Evidence.step("run until the steal of the four preemptions shows, every entry read", () ->
                    cpu.runUntil(gpa, "after the last round", s -> steal(s) - steal(seen.first()) >= p.toNanos() - tolerance(),
                            seen::observe));
        } finally {
            seen.attach("steal and version at every observation");
        }
        Snapshot before = seen.first();
        Evidence.step("observe: steal decodes little-endian and grew", () -> assertThatRecord(after).comparedTo(before)
                .hasStealDeltaBetween(before, 1, 1L << 40,
                        "four preemptions of " + ms(p) + " read as a little-endian u64 at offset 0 must add a plausible number of ns"));
    }

    /** One guest entry of each kind; the rounds of X86-LITTLE-ENDIAN take them in turn. */
    private List<Op> entryKinds() {
        Duration idle = preemption(Duration.ofMillis(1));
        return List.of(new Op("run", c -> c.runBriefly()),
                new Op("CPUID", c -> c.cpuid(KvmStealTime.CPUID_KVM_FEATURES)),
                new Op("RDMSR", c -> c.guestRdmsr()),
                new Op("idle " + ms(idle), c -> c.idle(idle)));
    }

    /**
     * Each observation decodes little-endian: steal, the u64 at offset 0, is below 2^48 ns (3 days),
     * so its most significant bytes 6..7 are zero; the version, the u32 at offset 8, is a count: read
     * little-endian it is small right after registering over a zeroed structure (below 2^16), and
     * between two observations it moves forward by fewer than 2^16 (two per update, and an observation
     * follows every call). A byte-swapped store of a nonzero value puts its low-order bytes in the high
     * ones, a jump of at least 2^24. Not an absolute bound after that: a fast hypervisor may make more
     * than 2^15 updates in one wait (the reference, with faster guest entries, once passed 2^16 and was
     * wrongly taken for a byte-swapping one).
     */
    static Observations littleEndianObservations() {
        return Observations.of("steal (u64 @0) and version (u32 @8) stored little-endian: steal's bytes 6..7 zero "
                        + "(below 2^48 ns), the version a small count with byte 11 zero",
                s -> String.format("steal bytes 0..7 %s = %s ns, version bytes 8..11 %s = %s", s.hexBytes(STEAL, 8),
                        Long.toUnsignedString(steal(s)), s.hexBytes(VERSION, 4), Integer.toUnsignedString(version(s))),
                (previous, now) -> now.zero(STEAL + 6, STEAL + 8) ? null
                        : String.format("steal's bytes 6..7 are %s: read little-endian steal is %s ns, read big-endian %s ns",
                        now.hexBytes(STEAL + 6, 2), Long.toUnsignedString(steal(now)), Long.toUnsignedString(Long.reverseBytes(steal(now)))),
                (previous, now) -> versionMovesBySmallSteps(previous, now) ? null
                        : String.format("version bytes 8..11 are %s: read little-endian %s, read big-endian %s (%s)", now.hexBytes(VERSION, 4),
                        Integer.toUnsignedString(version(now)), Integer.toUnsignedString(Integer.reverseBytes(version(now))),
                        previous == null ? "right after registering over a zeroed structure: expected below 2^16"
                                : "the observation before read " + Integer.toUnsignedString(version(previous))
                                + ": expected a step forward of less than 2^16"));
    }

    private static boolean versionMovesBySmallSteps(Snapshot previous, Snapshot now) {
        long v = Integer.toUnsignedLong(version(now));
        if (previous == null) {
            return v < (1L << 16);
        }
        return ((v - Integer.toUnsignedLong(version(previous))) & 0xFFFF_FFFFL) < (1L << 16);
    }

    @TckRule(RuleIds.X86_PREEMPTED_CLEARED)
    @Test(groups = Level.ADVISORY_GROUP)
    public void X86_PREEMPTED_CLEARED_preemptedIsZeroWhileTheGuestRuns() {
        preemptedStaysZeroWhileTheGuestRuns(openStealTimeVm(quietVcpuCount()));
    }

    /**
     * The same with steal time the guest's only paravirtual feature: Linux then clears {@code preempted}
     * on another path (no PV TLB flush), the one 1eff0ada88b4 fixed.
     */
    @TckRule(RuleIds.X86_PREEMPTED_CLEARED)
    @Test(groups = Level.ADVISORY_GROUP)
    public void X86_PREEMPTED_CLEARED_preemptedIsZeroWhileTheGuestRunsWithStealTimeAlone() {
        preemptedStaysZeroWhileTheGuestRuns(openStealTimeVm(layout().spec(architecture(), quietVcpuCount()).withOnlyStealTime()));
    }

    /** On the quiet vCPU ({@link #quietVcpuCount()}): a vCPU that keeps running may be preempted just as the TCK reads. */
    private void preemptedStaysZeroWhileTheGuestRuns(StealTimeVm vm) {
        StealTimeVcpu cpu = vm.vcpu(vm.vcpus().size() - 1);
        long gpa = layout().slot(14);
        Duration p = preemption(Duration.ofMillis(2));
        Evidence.step("configure: zero and register " + hex(gpa | ENABLE), () -> {
            vm.zeroStructure(gpa);
            cpu.enable(gpa);
        });
        for (int i = 1; i <= 3; i++) {
            int round = i;
            Evidence.step("round " + round + ": preempt " + ms(p) + ", then the guest runs", () -> {
                cpu.preemptThenRun(p);
                assertThatRecord(cpu.snapshot(gpa, "after preempt + run #" + round)).hasPreempted(0);
                cpu.idle(timing().scaled(Duration.ofMillis(1)));
                cpu.runBriefly();
                assertThatRecord(cpu.snapshot(gpa, "after idle + run #" + round)).hasPreempted(0);
            });
        }
    }
}
