package dev.stealtime.tck.arm64;

import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.GuardBytes;
import dev.stealtime.tck.support.Observations;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.Test;

import java.time.Duration;
import java.util.Arrays;

import static dev.stealtime.tck.arm64.Arm64Assertions.assertThatStolenTime;
import static org.assertj.core.api.Assertions.assertThat;
import static dev.stealtime.tck.arm64.PvTime.SIZE;
import static dev.stealtime.tck.arm64.PvTime.STOLEN_TIME;
import static dev.stealtime.tck.rules.Level.ADVISORY_GROUP;
import static dev.stealtime.tck.rules.Level.LINUX_ABI_GROUP;
import static dev.stealtime.tck.rules.Level.REQUIRED_GROUP;
import static dev.stealtime.tck.support.GuestLayout.low;

/**
 * The structure PV_TIME_ST points to:
 * <pre>
 *   | Revision    | 4 | 0 | Must be 0 for version 1.0 |
 *   | Attributes  | 4 | 4 | Must be 0                 |
 *   | Stolen time | 8 | 8 | unsigned nanoseconds      |
 *   All values in the structure are stored little-endian. 64 bytes reserved, 16 meaningful.
 * </pre>
 * Linux's PV_TIME_ST writes 64 zero bytes and restarts counting from the vCPU's current run delay.
 */
public class StructureLayoutTests extends Arm64TckTest {

    /** What the VMM plants in bytes 16..63 after PV_TIME_ST, so "never written" shows. */
    private static final byte CANARY = (byte) 0xA5;

    /**
     * The structure as the VMM set it up (zeroed by the TCK before the IPA is set), after
     * PV_TIME_ST and after every call of a workload of updates: {@code revision} reads 0 each time
     * (a hypervisor that stamps it on every second update shows on one of them). Nothing here relies
     * on PV_TIME_ST zeroing the structure (ARM-ST-REINITIALISES, linux-abi).
     */
    @TckRule(RuleIds.ARM_REVISION_ZERO)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_REVISION_ZERO_readsZeroAfterPvTimeStAndAfterEveryUpdate() {
        stealAndRun(structureInUse(), Observations.of("revision (u32 @0) reads 0", s -> String.format("revision %d", s.u32(PvTime.REVISION)),
                (previous, now) -> now.u32(PvTime.REVISION) == 0 ? null
                        : String.format("revision reads %d (0x%08x)", now.u32(PvTime.REVISION), now.u32(PvTime.REVISION))));
    }

    /** As ARM-REVISION-ZERO, for {@code attributes}. */
    @TckRule(RuleIds.ARM_ATTRIBUTES_ZERO)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_ATTRIBUTES_ZERO_readsZeroAfterPvTimeStAndAfterEveryUpdate() {
        stealAndRun(structureInUse(), Observations.of("attributes (u32 @4) reads 0", s -> String.format("attributes 0x%08x", s.u32(PvTime.ATTRIBUTES)),
                (previous, now) -> now.u32(PvTime.ATTRIBUTES) == 0 ? null
                        : String.format("attributes reads %d (0x%08x)", now.u32(PvTime.ATTRIBUTES), now.u32(PvTime.ATTRIBUTES))));
    }

    /** The VMM zeroes the 64 bytes and sets the IPA, the vCPU runs, the guest calls PV_TIME_ST. */
    private PvTimeVcpu structureInUse() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        return Evidence.step(String.format("zero 0x%x, set the IPA, run, call PV_TIME_ST", low(0)), () -> {
            vcpu.configure(low(0));
            vcpu.runBriefly();
            vcpu.stolenTimeIpa();
            return vcpu;
        });
    }

    /**
     * Preempt, run, idle, preempt, run twice, with {@code seen} judging the structure as PV_TIME_ST
     * left it and after every call (each can carry an update, so a defect that shows on odd or on
     * even updates only is seen); returns the last observation.
     */
    private Snapshot stealAndRun(PvTimeVcpu vcpu, Observations seen) {
        try {
            seen.observe(vcpu.snapshot("as PV_TIME_ST left it"));
            return Evidence.step("preempt, run, idle, preempt, run, run: the structure read after each call", () -> {
                vcpu.preempt(millis(1));
                seen.observe(vcpu.snapshot("after preempt 1 ms"));
                vcpu.runBriefly();
                seen.observe(vcpu.snapshot("after run #1"));
                vcpu.idle(millis(0.5));
                seen.observe(vcpu.snapshot("after WFI 0.5 ms"));
                vcpu.preempt(millis(0.5));
                seen.observe(vcpu.snapshot("after preempt 0.5 ms"));
                vcpu.runBriefly();
                seen.observe(vcpu.snapshot("after run #2"));
                vcpu.runBriefly();
                return seen.observe(vcpu.snapshot("after run #3"));
            });
        } finally {
            seen.attach("the structure at every observation");
        }
    }

    // ---------------------------------------------------------------- ARM-LITTLE-ENDIAN

    /**
     * Byte order is judged at every observation, not on two snapshots: a hypervisor that stores
     * stolen_time byte-swapped but reads it back little-endian swaps it back on every update with
     * nothing to add, so after an even number of updates it reads right. The vCPU is stepped through
     * preemptions followed by 1, 2, 3 and 4 further guest entries (runs, a WFI, a hypercall), so the
     * updates between two preemptions are both odd and even in number, and the structure is read
     * after every call: each read must hold the value in its low-order bytes.
     */
    @TckRule(RuleIds.ARM_LITTLE_ENDIAN)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_LITTLE_ENDIAN_everyUpdateStoresStolenTimeLeastSignificantFirst() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        // exact (virtual) time: 0x01_0203_0405 ns (4.3 s) fills five distinct bytes; measured: a modest 3 ms
        Duration d = exact() ? Duration.ofNanos(0x01_0203_0405L) : measurable(3);
        Evidence.parameter("induced steal per preemption", d.toNanos() + " ns");
        Observations seen = littleEndianObservations();
        try {
            Evidence.step("configure, PV_TIME_ST", () -> {
                vcpu.enable(low(0));
                seen.observe(vcpu.snapshot("after PV_TIME_ST"));
            });
            for (int round = 1; round <= 4; round++) {
                int r = round;
                Evidence.step("round " + r + ": preempt " + d.toNanos() + " ns, then " + r + " guest entries, the structure read after each call", () -> {
                    vcpu.preempt(d);
                    seen.observe(vcpu.snapshot("after preempt #" + r));
                    for (int entry = 1; entry <= r; entry++) {
                        String what = entryOfRound(vcpu, r, entry);
                        seen.observe(vcpu.snapshot("after " + what + " (round " + r + ")"));
                    }
                });
            }
        } finally {
            seen.attach("stolen_time at every observation");
        }
        Evidence.step("the value sits in the low-order bytes and grew over the four preemptions",
                () -> assertThatStolenTime(seen.last()).comparedTo(seen.first()).hasStolenTimeInLowOrderBytes().stolenTimeGrew("four preemptions"));
    }

    /** Entry {@code entry} of round {@code round}: runs, with a WFI in round 3 and a hypercall ending round 4. */
    private String entryOfRound(PvTimeVcpu vcpu, int round, int entry) {
        if (round == 3 && entry == 2) {
            vcpu.idle(millis(0.5));
            return "WFI 0.5 ms";
        }
        if (round == 4 && entry == 4) {
            vcpu.features(PvTime.PV_TIME_ST);
            return "PV_TIME_FEATURES(PV_TIME_ST)";
        }
        vcpu.runBriefly();
        return "run #" + entry;
    }

    /**
     * Each observation: stolen_time, read as the little-endian u64 at offset 8, is below 2^40 ns
     * (18 minutes; PV_TIME_ST started it from zero a few seconds ago), so offsets 13..15 hold zero.
     * A big-endian or word-swapped store of a nonzero value puts its bytes there.
     */
    static Observations littleEndianObservations() {
        return Observations.of("stolen_time (u64 @8) stored little-endian: its least significant byte at offset 8 and, for a value "
                        + "below 2^40 ns, zero in offsets 13..15",
                s -> String.format("bytes 8..15 %s  little-endian %s ns, big-endian %s ns", s.hexBytes(STOLEN_TIME, 8),
                        Long.toUnsignedString(s.u64(STOLEN_TIME)), Long.toUnsignedString(Long.reverseBytes(s.u64(STOLEN_TIME)))),
                (previous, now) -> now.zero(STOLEN_TIME + 5, STOLEN_TIME + 8) ? null
                        : String.format("offsets 13..15 hold %s: read as little-endian stolen_time is %s ns, read as big-endian %s ns",
                        now.hexBytes(STOLEN_TIME + 5, 3), Long.toUnsignedString(now.u64(STOLEN_TIME)),
                        Long.toUnsignedString(Long.reverseBytes(now.u64(STOLEN_TIME)))));
    }

    /** The first byte in {@code [from, to)} that differs from {@code planted}, described; null when none does. */
    private static String firstChange(Snapshot planted, Snapshot now, int from, int to) {
        for (int i = from; i < to; i++) {
            if (now.u8(i) != planted.u8(i)) {
                return String.format("offset %d changed from 0x%02x to 0x%02x", i, planted.u8(i), now.u8(i));
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- ARM-WRITES-IN-BOUNDS

    @TckRule(RuleIds.ARM_WRITES_IN_BOUNDS)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_WRITES_IN_BOUNDS_nothingOutsideTheSixtyFourBytesIsEverWritten() {
        PvTimeVm vm = openPvTimeVm(1);
        PvTimeVcpu vcpu = vm.vcpu(0);
        long ipa = vcpu.placedByVmm() ? vcpu.configure(low(2)).ipa() : low(2);
        int margin = 128;
        long from = ipa - margin;
        long to = ipa + SIZE + margin;
        if (vcpu.placedByVmm()) {
            // the VMM's own region: only the page that holds the structure is known to be memory
            from = Math.max(from, ipa & ~0xfffL);
            to = Math.min(to, (ipa | 0xfffL) + 1);
        }
        // canaries around the structure, in two complementary passes (GuardBytes), so a write of any value shows
        GuardBytes guard = GuardBytes.plant(vm.memory(), from, Math.toIntExact(to - from)).except(ipa, SIZE);
        vcpu.enable(ipa);
        String first = Evidence.step("pass 1 (IPA set, PV_TIME_ST called): preempt/run/idle, PV_TIME_ST again, more updates", () -> {
            updatesAndPvTimeSt(vcpu);
            return guard.checkAndFlip();
        });
        String second = Evidence.step("pass 2, canaries complemented: preempt/run/idle, PV_TIME_ST, more updates", () -> {
            updatesAndPvTimeSt(vcpu);
            return guard.violations();
        });
        assertThat(first).as("bytes within %d of the structure at 0x%x (pass 1 of 2)", margin, ipa).isEmpty();
        assertThat(second).as("bytes within %d of the structure at 0x%x (pass 2 of 2, canaries complemented)", margin, ipa).isEmpty();
    }

    private void updatesAndPvTimeSt(PvTimeVcpu vcpu) {
        vcpu.preempt(millis(1));
        vcpu.settle();
        vcpu.idle(millis(0.5));
        vcpu.stolenTimeIpa();
        vcpu.preempt(millis(2));
        vcpu.settle();
    }

    // ---------------------------------------------------------------- ARM-RESERVED-UNTOUCHED

    /**
     * After PV_TIME_ST the VMM plants canaries in bytes 16..63 (only 16 bytes are "meaningfully
     * filled by the hypervisor"); updates over a mixed workload must leave them as they are.
     */
    @TckRule(RuleIds.ARM_RESERVED_UNTOUCHED)
    @Test(groups = ADVISORY_GROUP)
    public void ARM_RESERVED_UNTOUCHED_updatesNeverWriteBytes16To63() {
        PvTimeVcpu vcpu = structureInUse();
        // two complementary passes, so a write of any value (the canary's own too) shows
        for (byte canary : new byte[]{CANARY, (byte) ~CANARY}) {
            Snapshot planted = Evidence.step(String.format("plant 0x%02x in bytes 16..63", canary), () -> {
                vcpu.fill(STOLEN_TIME + 8, SIZE, canary);
                return vcpu.snapshot(String.format("canaries 0x%02x planted in bytes 16..63 after PV_TIME_ST", canary));
            });
            Snapshot after = stealAndRun(vcpu, Observations.of(String.format("bytes 16..63 keep the canaries 0x%02x planted after PV_TIME_ST", canary),
                    s -> String.format("bytes 16..23 %016x", Long.reverseBytes(s.u64(STOLEN_TIME + 8))),
                    (previous, now) -> firstChange(planted, now, STOLEN_TIME + 8, SIZE)));
            assertThatStolenTime(after).comparedTo(planted).stolenTimeGrew("the preemptions (the structure was updated)");
            assertThatStolenTime(after).bytesUnchangedOutside(0, STOLEN_TIME + 8, planted);
        }
    }

    // ---------------------------------------------------------------- ARM-ST-REINITIALISES

    @TckRule(RuleIds.ARM_ST_REINITIALISES)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_ST_REINITIALISES_pvTimeStZeroesAllSixtyFourBytes() {
        PvTimeVm vm = openPvTimeVm(1);
        PvTimeVcpu vcpu = vm.vcpu(0);
        vcpu.enable(low(0));
        vcpu.preempt(millis(2));
        vcpu.settle();
        byte[] junk = new byte[SIZE];
        Arrays.fill(junk, (byte) 0xC3);
        vm.memory().write(vcpu.ipa(), junk);
        Snapshot before = vcpu.snapshot("stolen time accumulated, then the guest scribbled 0xc3 over the structure");
        long h0 = vcpu.hostSteal();
        Evidence.step("the guest calls PV_TIME_ST again", vcpu::stolenTimeIpa);
        long h1 = vcpu.hostSteal();
        Snapshot after = vcpu.snapshot("right after PV_TIME_ST");
        assertThatStolenTime(after).comparedTo(before)
                .hasZeroBytes(0, STOLEN_TIME, "revision and attributes")
                .hasZeroBytes(STOLEN_TIME + 8, SIZE, "reserved bytes 16..63")
                .hasStolenTimeAtMost((h1 - h0) + tolerance());
    }

    @TckRule(RuleIds.ARM_ST_REINITIALISES)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_ST_REINITIALISES_pvTimeStRestartsCounting() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.enable(low(0));
        Duration shorter = measurable(2);
        Duration longer = shorter.plus(measurable(6));   // apart by more than five tolerances
        Evidence.step("preempt " + longer.toMillis() + " ms", () -> {
            vcpu.preempt(longer);
            vcpu.settle();
        });
        Snapshot accumulated = vcpu.snapshot("after preempt(" + longer.toMillis() + " ms)");
        vcpu.stolenTimeIpa();
        Snapshot restarted = vcpu.snapshot("right after PV_TIME_ST");
        Evidence.step("PV_TIME_ST, then preempt " + shorter.toMillis() + " ms", () -> {
            vcpu.preempt(shorter);
            vcpu.settle();
        });
        Snapshot after = vcpu.snapshot("after PV_TIME_ST and preempt(" + shorter.toMillis() + " ms)");
        assertThatStolenTime(after).comparedTo(restarted)
                .stolenTimeGrew("counting continues after PV_TIME_ST")
                .comparedTo(accumulated)
                .hasStolenTimeBelow(accumulated.u64(STOLEN_TIME),
                        "counting restarted at PV_TIME_ST: " + shorter.toMillis() + " ms since, not " + longer.toMillis() + " + " + shorter.toMillis());
    }
}
