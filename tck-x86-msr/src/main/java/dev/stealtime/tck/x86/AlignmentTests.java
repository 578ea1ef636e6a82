package dev.stealtime.tck.x86;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.GuardBytes;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.RESERVED_PATTERNS;
import static dev.stealtime.tck.x86.KvmStealTime.SIZE;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.assertThatRecord;
import static org.assertj.core.api.Assertions.assertThat;

/** Rule area "Alignment": reserved bits 5:1 are rejected, and updates land only on the registered 64 bytes. */
public class AlignmentTests extends X86TckTest {

    /**
     * All 32 patterns of bits 5:1 with the enable bit on and off, written to an address in low RAM,
     * in the last 64 bytes of RAM and above 4 GiB, by the guest and by the VMM: the 62 values with a
     * reserved bit set are rejected and change nothing (the MSR still reads the previous value, no
     * byte near the target changes), the 2 values without one (the control) are accepted.
     */
    @TckRule(RuleIds.X86_ALIGN_REJECT)
    @Test(groups = Level.LINUX_ABI_GROUP, dataProvider = "placesAndPaths")
    public void X86_ALIGN_REJECT_everyReservedBitPatternFaults(Place place, Path path) {
        requireCase(place, path);
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long previous = layout().slot(1);
        long target = place.gpa(layout());
        // canaries over the target structure and the 128 bytes before it (and after it, unless RAM ends there)
        long guardFrom = target - 128;
        int guardLength = place == Place.EDGE ? 128 + SIZE : 128 + SIZE + 128;

        GuardBytes guard = Evidence.step("configure: registered structure at " + hex(previous) + ", canaries at "
                + hex(guardFrom) + ".." + hex(guardFrom + guardLength), () -> {
            vm.zeroStructure(previous);
            GuardBytes g = GuardBytes.plant(vm.memory(), guardFrom, guardLength);
            cpu.enable(previous);
            cpu.runBriefly();
            return g;
        });
        long before = path.read(cpu);   // what "unchanged" means below (whether it reads back exactly is X86-RDMSR-READBACK)

        List<String> problems = new ArrayList<>();
        StringBuilder table = new StringBuilder(String.format("%-8s %-7s %-20s %-10s %s%n", "bits5:1", "enable", "value", "result", "read back"));
        Evidence.step("run: " + path + " of 62 reserved-bit values, each followed by a read-back and a guest entry", () -> {
            for (int pattern = 1; pattern < RESERVED_PATTERNS; pattern++) {
                for (boolean enable : new boolean[]{false, true}) {
                    long value = KvmStealTime.value(target, pattern, enable);
                    boolean accepted = path.write(cpu, value);
                    if (path == Path.HOST) {
                        cpu.runBriefly();   // the guest runs: a hypervisor that took the value would update now
                    }
                    long readBack = path.read(cpu);   // the guest RDMSR also enters the guest
                    String changed = guard.checkAndFlip();   // the canaries alternate between complementary passes
                    table.append(String.format("%-8s %-7s %-20s %-10s %s%n", binary(pattern), enable ? "1" : "0", hex(value),
                            accepted ? "ACCEPTED" : "rejected", hex(readBack)));
                    if (accepted) {
                        problems.add(String.format("%s %s (bits 5:1 = %s, enable %d) was accepted, expected %s", path, hex(value),
                                binary(pattern), enable ? 1 : 0, path == Path.GUEST ? "#GP" : "0 MSRs written"));
                    }
                    if (readBack != before) {
                        problems.add(String.format("after %s %s the MSR reads %s, expected the previous value %s", path, hex(value),
                                hex(readBack), hex(before)));
                    }
                    if (!changed.isEmpty()) {
                        problems.add(String.format("after %s %s guest memory near %s changed: %s", path, hex(value), hex(target), changed));
                    }
                }
            }
        });
        Evidence.step("control: bits 5:1 clear (" + hex(target) + " and " + hex(target | ENABLE) + ") are accepted", () -> {
            for (boolean enable : new boolean[]{false, true}) {
                long value = KvmStealTime.value(target, 0, enable);
                boolean accepted = path.write(cpu, value);
                table.append(String.format("%-8s %-7s %-20s %-10s%n", binary(0), enable ? "1" : "0", hex(value), accepted ? "accepted" : "REJECTED"));
                if (!accepted) {
                    problems.add(String.format("control: %s %s (no reserved bit) was rejected", path, hex(value)));
                }
            }
        });
        Evidence.text("reserved-bit patterns at " + place, table.toString());
        assertThat(problems).as("%s of reserved-bit values at %s (registered structure at %s):%n%s", path, place, hex(previous), table)
                .isEmpty();
    }

    private static String binary(int pattern) {
        String b = Integer.toBinaryString(pattern);
        return "0".repeat(5 - b.length()) + b;
    }

    /**
     * Canaries fill four pages around a registered structure; after updates only its 64 bytes have
     * changed. Then the guest (and the VMM) register another valid address inside the canaried
     * pages, and again only those 64 bytes change. Each structure is zeroed before each of its
     * registrations, as the guest must (a hypervisor may restart its own total at registration). Only valid values (64-byte aligned, bits 5:1
     * clear) are written here: what a hypervisor does with a value that has a reserved bit set is
     * {@code X86-ALIGN-REJECT} (linux-abi), never this required rule.
     */
    @TckRule(RuleIds.X86_ALIGN_NO_STRAY_WRITE)
    @Test(groups = Level.REQUIRED_GROUP)
    public void X86_ALIGN_NO_STRAY_WRITE_updatesLandOnlyOnTheRegistered64Bytes() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long area = layout().slot(19);
        int areaLength = 4 * 0x1000;
        long first = layout().slot(20);
        long moved = layout().slot(22) + 0x40;
        Duration p = preemption(Duration.ofMillis(2));

        GuardBytes guard = Evidence.step("configure: canaries over " + hex(area) + ".." + hex(area + areaLength)
                + ", structures at " + hex(first) + " and " + hex(moved) + " (each zeroed before it is registered)", () ->
                GuardBytes.plant(vm.memory(), area, areaLength).except(first, SIZE).except(moved, SIZE));
        List<Path> paths = new ArrayList<>(List.of(Path.GUEST));
        if (provider().capabilities().contains(Capability.HOST_MSR_ACCESS)) {
            paths.add(Path.HOST);
        }
        StringBuilder registrations = new StringBuilder();
        for (Path path : paths) {
            for (long gpa : new long[]{first, moved}) {
                Evidence.step("zero " + hex(gpa) + " and register " + hex(gpa | ENABLE) + " through " + path + ", preempt/run/idle until the steal shows", () -> {
                    vm.zeroStructure(gpa);   // before every registration, as the guest must
                    Snapshot start = cpu.snapshot(gpa, "zeroed, before registering through " + path);
                    assertThat(path.write(cpu, gpa | ENABLE)).as("%s %s (aligned, in RAM, enabled) was rejected", path, hex(gpa | ENABLE)).isTrue();
                    for (int i = 0; i < 3; i++) {
                        cpu.preemptThenRun(p);
                    }
                    cpu.idle(timing().scaled(Duration.ofMillis(2)));
                    cpu.preempt(p);
                    Snapshot end = cpu.runUntilStealAbove(gpa, start, "after registering through " + path + " and preempt/run/idle");
                    registrations.append(String.format("%s %s: steal %,d -> %,d%n", path, hex(gpa | ENABLE),
                            StealTimeRecordAssert.steal(start), StealTimeRecordAssert.steal(end)));
                    assertThatRecord(end).hasStealAbove(start, "the registered structure must be updated, or stray writes could not show");
                    assertThat(guard.checkAndFlip()).as("bytes outside the registered structures %s and %s, after %s %s and updates",
                            hex(first), hex(moved), path, hex(gpa | ENABLE)).isEmpty();
                });
            }
        }
        Evidence.text("valid registrations", registrations.toString());
        // each registration checked one canary pass and flipped them: two passes at least, so a write of any value showed
        assertThat(guard.passes()).as("complementary canary passes checked").isGreaterThanOrEqualTo(2);
    }
}
