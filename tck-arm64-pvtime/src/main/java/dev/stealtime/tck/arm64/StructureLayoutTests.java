package dev.stealtime.tck.arm64;

import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.GuardBytes;
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
     * PV_TIME_ST and after updates: {@code revision} reads 0. Nothing here relies on PV_TIME_ST
     * zeroing the structure (ARM-ST-REINITIALISES, linux-abi).
     */
    @TckRule("ARM-REVISION-ZERO")
    @Test(groups = REQUIRED_GROUP)
    public void ARM_REVISION_ZERO_readsZeroAfterPvTimeStAndAfterUpdates() {
        PvTimeVcpu vcpu = structureInUse();
        Evidence.step("after PV_TIME_ST", () -> assertThatStolenTime(vcpu.snapshot("after PV_TIME_ST")).hasRevision(0));
        stealAndRun(vcpu);
        Evidence.step("after updates", () -> assertThatStolenTime(vcpu.snapshot("after preemptions and runs")).hasRevision(0));
    }

    /** As ARM-REVISION-ZERO, for {@code attributes}. */
    @TckRule("ARM-ATTRIBUTES-ZERO")
    @Test(groups = REQUIRED_GROUP)
    public void ARM_ATTRIBUTES_ZERO_readsZeroAfterPvTimeStAndAfterUpdates() {
        PvTimeVcpu vcpu = structureInUse();
        Evidence.step("after PV_TIME_ST", () -> assertThatStolenTime(vcpu.snapshot("after PV_TIME_ST")).hasAttributes(0));
        stealAndRun(vcpu);
        Evidence.step("after updates", () -> assertThatStolenTime(vcpu.snapshot("after preemptions and runs")).hasAttributes(0));
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

    private void stealAndRun(PvTimeVcpu vcpu) {
        Evidence.step("preempt, run, idle, preempt, settle", () -> {
            vcpu.preempt(millis(1));
            vcpu.runBriefly();
            vcpu.idle(millis(0.5));
            vcpu.preempt(millis(0.5));
            vcpu.settle();
        });
    }

    // ---------------------------------------------------------------- ARM-LITTLE-ENDIAN

    @TckRule("ARM-LITTLE-ENDIAN")
    @Test(groups = REQUIRED_GROUP)
    public void ARM_LITTLE_ENDIAN_stolenTimeBytesAreLeastSignificantFirst() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.enable(low(0));
        vcpu.settle();
        // exact (virtual) time: 0x01_0203_0405 ns (4.3 s) fills five distinct bytes; measured: a modest 3 ms
        Duration d = exact() ? Duration.ofNanos(0x01_0203_0405L) : measurable(3);
        Evidence.parameter("induced steal", d.toNanos() + " ns");
        Snapshot before = vcpu.snapshot("after PV_TIME_ST");
        Evidence.step("preempt " + d.toNanos() + " ns, run", () -> {
            vcpu.preempt(d);
            vcpu.settle();
        });
        Snapshot after = vcpu.snapshot("after preempt(" + d.toNanos() + " ns) and the next runs");
        Evidence.step("the value sits in the low-order bytes, least significant at offset 8",
                () -> assertThatStolenTime(after).comparedTo(before).hasStolenTimeInLowOrderBytes().stolenTimeGrew("the preemption"));
    }

    // ---------------------------------------------------------------- ARM-WRITES-IN-BOUNDS

    @TckRule("ARM-WRITES-IN-BOUNDS")
    @Test(groups = REQUIRED_GROUP)
    public void ARM_WRITES_IN_BOUNDS_nothingOutsideTheSixtyFourBytesIsEverWritten() {
        PvTimeVm vm = openPvTimeVm(1);
        PvTimeVcpu vcpu = vm.vcpu(0);
        long ipa = low(2);
        int margin = 128;
        long from = ipa - margin;
        // canaries around the structure, in two complementary passes (GuardBytes), so a write of any value shows
        GuardBytes guard = GuardBytes.plant(vm.memory(), from, margin + SIZE + margin).except(ipa, SIZE);
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
    @TckRule("ARM-RESERVED-UNTOUCHED")
    @Test(groups = ADVISORY_GROUP)
    public void ARM_RESERVED_UNTOUCHED_updatesNeverWriteBytes16To63() {
        PvTimeVcpu vcpu = structureInUse();
        // two complementary passes, so a write of any value (the canary's own too) shows
        for (byte canary : new byte[]{CANARY, (byte) ~CANARY}) {
            Snapshot planted = Evidence.step(String.format("plant 0x%02x in bytes 16..63", canary), () -> {
                vcpu.fill(STOLEN_TIME + 8, SIZE, canary);
                return vcpu.snapshot(String.format("canaries 0x%02x planted in bytes 16..63 after PV_TIME_ST", canary));
            });
            stealAndRun(vcpu);
            Snapshot after = vcpu.snapshot(String.format("after preemptions, runs and idle (canaries 0x%02x)", canary));
            assertThatStolenTime(after).comparedTo(planted).stolenTimeGrew("the preemptions (the structure was updated)");
            assertThatStolenTime(after).bytesUnchangedOutside(0, STOLEN_TIME + 8, planted);
        }
    }

    // ---------------------------------------------------------------- ARM-ST-REINITIALISES

    @TckRule("ARM-ST-REINITIALISES")
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_ST_REINITIALISES_pvTimeStZeroesAllSixtyFourBytes() {
        PvTimeVm vm = openPvTimeVm(1);
        PvTimeVcpu vcpu = vm.vcpu(0);
        vcpu.enable(low(0));
        vcpu.preempt(millis(2));
        vcpu.settle();
        byte[] junk = new byte[SIZE];
        Arrays.fill(junk, (byte) 0xC3);
        vm.memory().write(low(0), junk);
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

    @TckRule("ARM-ST-REINITIALISES")
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
