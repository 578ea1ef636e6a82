package dev.stealtime.tck.x86;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.GuardBytes;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.Test;

import java.time.Duration;
import java.util.Arrays;

import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.PAD_FROM;
import static dev.stealtime.tck.x86.KvmStealTime.SIZE;
import static dev.stealtime.tck.x86.KvmStealTime.STEAL;
import static dev.stealtime.tck.x86.KvmStealTime.VERSION;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.assertThatRecord;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.steal;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.version;
import static org.assertj.core.api.Assertions.assertThat;

/** Rule area "Structure layout": where the hypervisor writes, and what the fields hold. */
public class StructureLayoutTests extends X86TckTest {

    @Test(groups = Level.REQUIRED_GROUP)
    @TckRule("X86-LAYOUT")
    public void X86_LAYOUT_writesOnlyInside64BytesWithStealAtOffset0() {
        Vm vm = openVm();
        X86Vcpu cpu = x86(vm, 0);
        long gpa = layout().slot(6);
        Duration p = preemption(Duration.ofMillis(3));
        GuardBytes guard = step("configure: canaries 256 bytes either side of " + hex(gpa) + ", structure zeroed and registered", () -> {
            GuardBytes g = GuardBytes.plant(vm.memory(), gpa - 256, 256 + SIZE + 256).except(gpa, SIZE);
            zeroStructure(vm, gpa);
            enable(cpu, gpa);
            return g;
        });
        // two complementary passes of the canaries (GuardBytes), so a write of any value shows
        for (int pass = 1; pass <= 2; pass++) {
            int n = pass;
            Snapshot start = settle(vm, cpu, gpa, "pass " + n + ": after registering and running");
            Snapshot end = step("pass " + n + " of 2: 3 x preempt " + ms(p) + " + run, idle, runs until the steal shows", () -> {
                for (int i = 0; i < 3; i++) {
                    preemptThenRun(cpu, p);
                }
                cpu.idle(preemption(Duration.ofMillis(2)));
                return runUntilStealAbove(vm, cpu, gpa, start, "after 3 preemptions (pass " + n + ")");
            });
            step("observe: nothing outside the 64 bytes, steal grew in the u64 at offset 0", () -> {
                assertThat(guard.checkAndFlip()).as("guest memory around the structure at %s (canary pass %d of 2)", hex(gpa), n).isEmpty();
                assertThatRecord(end)
                        .hasStealAbove(start, "3 preemptions of " + ms(p) + " must show in the u64 at offset 0");
            });
        }
    }

    @Test(groups = Level.REQUIRED_GROUP)
    @TckRule("X86-FLAGS-ZERO")
    public void X86_FLAGS_ZERO_flagsStaysZeroAcrossUpdates() {
        Vm vm = openVm();
        X86Vcpu cpu = x86(vm, 0);
        long gpa = layout().slot(8);
        step("configure: zero and register " + hex(gpa | ENABLE), () -> {
            zeroStructure(vm, gpa);
            enable(cpu, gpa);
        });
        assertThatRecord(record(vm, cpu, gpa, "after registering")).hasFlags(0);
        for (Op op : mixedWorkload(3)) {
            op.on(cpu);
            assertThatRecord(record(vm, cpu, gpa, "after " + op.name())).hasFlags(0);
        }
    }

    @Test(groups = Level.ADVISORY_GROUP)
    @TckRule("X86-PAD-UNTOUCHED")
    public void X86_PAD_UNTOUCHED_paddingBytes20To63AreNeverWritten() {
        Vm vm = openVm();
        X86Vcpu cpu = x86(vm, 0);
        long gpa = layout().slot(10);
        GuardBytes pad = GuardBytes.plant(vm.memory(), gpa + PAD_FROM, SIZE - PAD_FROM);
        Snapshot planted = step("configure: bytes 0..19 zero, canaries in bytes 20..63, register", () -> {
            vm.memory().write(gpa, new byte[PAD_FROM]);
            Snapshot s = record(vm, cpu, gpa, "as planted");
            enable(cpu, gpa);
            return s;
        });
        assertThatRecord(record(vm, cpu, gpa, "after registering")).hasPadUnchangedFrom(planted);
        for (Op op : mixedWorkload(3)) {
            op.on(cpu);
            assertThatRecord(record(vm, cpu, gpa, "after " + op.name())).hasPadUnchangedFrom(planted);
        }
        // the second of two complementary passes, so a write of any value (the canary's own too) shows
        pad.flip();
        Snapshot complemented = record(vm, cpu, gpa, "padding canaries complemented");
        for (Op op : mixedWorkload(2)) {
            op.on(cpu);
            assertThatRecord(record(vm, cpu, gpa, "after " + op.name() + " (canaries complemented)")).hasPadUnchangedFrom(complemented);
        }
    }

    /**
     * Decoded little-endian the fields make sense (steal grew by a plausible number of nanoseconds,
     * the version is a small even count) and the bytes are where little-endian puts them: the
     * version's low byte at offset 8 carries the count, its high byte at 11 is zero; steal's top
     * bytes are zero.
     */
    @Test(groups = Level.REQUIRED_GROUP)
    @TckRule("X86-LITTLE-ENDIAN")
    public void X86_LITTLE_ENDIAN_fieldsDecodeLittleEndian() {
        Vm vm = openVm();
        X86Vcpu cpu = x86(vm, 0);
        long gpa = layout().slot(12);
        Duration p = preemption(Duration.ofMillis(3));
        step("configure: zero and register " + hex(gpa | ENABLE), () -> {
            zeroStructure(vm, gpa);
            enable(cpu, gpa);
        });
        Snapshot before = settle(vm, cpu, gpa, "after registering and running");
        Snapshot after = step("run: preempt " + ms(p) + " then run until the steal shows",
                () -> preemptThenRunUntilPublished(vm, cpu, gpa, p, "preempt + run"));
        Evidence.text("structure, before and after", dev.stealtime.tck.support.HexDump.beforeAfter(gpa, before.bytes(), after.bytes()));
        step("observe: fields decode little-endian", () -> {
            long delta = steal(after) - steal(before);
            assertThatRecord(after).comparedTo(before)
                    .hasStealDeltaBetween(before, 1, 1L << 40,
                            "a preemption of " + ms(p) + " read as a little-endian u64 at offset 0 must add a plausible number of ns");
            assertThat(Long.compareUnsigned(steal(after), 1L << 48)).as("steal %s read little-endian is below 2^48 ns (3 days): "
                    + "its top bytes 6..7 hold zeros", hex(steal(after))).isNegative();
            assertThat(Integer.toUnsignedLong(version(after))).as("version read little-endian at offset 8 (bytes %s) is a small count",
                    Arrays.toString(Arrays.copyOfRange(after.bytes(), VERSION, VERSION + 4))).isLessThan(1L << 16);
            assertThat(after.u8(VERSION + 3)).as("version's most significant byte (offset 11)").isZero();
            assertThat(after.u8(STEAL + 7)).as("steal's most significant byte (offset 7)").isZero();
            assertThat(delta).isPositive();
        });
    }

    @Test(groups = Level.ADVISORY_GROUP)
    @TckRule("X86-PREEMPTED-CLEARED")
    public void X86_PREEMPTED_CLEARED_preemptedIsZeroWhileTheGuestRuns() {
        preemptedStaysZeroWhileTheGuestRuns(openVm());
    }

    /**
     * The same with steal time the guest's only paravirtual feature: Linux then clears {@code preempted}
     * on another path (no PV TLB flush), the one 1eff0ada88b4 fixed.
     */
    @Test(groups = Level.ADVISORY_GROUP)
    @TckRule("X86-PREEMPTED-CLEARED")
    public void X86_PREEMPTED_CLEARED_preemptedIsZeroWhileTheGuestRunsWithStealTimeAlone() {
        preemptedStaysZeroWhileTheGuestRuns(openVm(layout().spec(architecture(), 1).withOnlyStealTime()));
    }

    private void preemptedStaysZeroWhileTheGuestRuns(Vm vm) {
        X86Vcpu cpu = x86(vm, 0);
        long gpa = layout().slot(14);
        Duration p = preemption(Duration.ofMillis(2));
        step("configure: zero and register " + hex(gpa | ENABLE), () -> {
            zeroStructure(vm, gpa);
            enable(cpu, gpa);
        });
        for (int i = 1; i <= 3; i++) {
            int round = i;
            step("round " + round + ": preempt " + ms(p) + ", then the guest runs", () -> {
                preemptThenRun(cpu, p);
                assertThatRecord(record(vm, cpu, gpa, "after preempt + run #" + round)).hasPreempted(0);
                cpu.idle(timing().scaled(Duration.ofMillis(1)));
                cpu.run(shortRun());
                assertThatRecord(record(vm, cpu, gpa, "after idle + run #" + round)).hasPreempted(0);
            });
        }
    }
}
