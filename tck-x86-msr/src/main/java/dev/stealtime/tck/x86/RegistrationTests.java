package dev.stealtime.tck.x86;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.GuardBytes;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.DataProvider;
import org.testng.annotations.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.SIZE;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static dev.stealtime.tck.x86.KvmStealTime.ms;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.assertThatRecord;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.version;
import static org.assertj.core.api.Assertions.assertThat;

/** Rule area "Registration": enabling, staying registered, disabling, and addresses outside RAM. */
public class RegistrationTests extends X86TckTest {

    @TckRule(RuleIds.X86_ENABLE)
    @Test(groups = Level.REQUIRED_GROUP, dataProvider = "placesAndPaths")
    public void X86_ENABLE_writingGpaOr1FillsTheStructureOnceTheVcpuHasRun(Place place, Path path) {
        requireCase(place, path);
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = place.gpa(layout());
        vm.zeroStructure(gpa);
        Snapshot zeroed = cpu.snapshot(gpa, "as the guest zeroed it");
        Evidence.step("configure: " + path + " " + hex(gpa | ENABLE), () ->
                assertThat(path.write(cpu, gpa | ENABLE)).as("%s %s (an aligned address in RAM, enabled) was rejected", path, hex(gpa | ENABLE)).isTrue());
        Snapshot filled = Evidence.step("run: preempt, then run until the structure is filled (update bound " + cpu.updateBound() + ")", () -> {
            cpu.preempt(preemption(Duration.ofMillis(3)));
            return cpu.runUntilUpdated(gpa, zeroed, "after registering and running");
        });
        Evidence.step("observe: the structure was filled", () ->
                assertThatRecord(filled)
                        .wasUpdatedSince(zeroed, "registering " + hex(gpa | ENABLE) + " through " + path + " then running must fill the structure"));
    }

    @TckRule(RuleIds.X86_REGISTER_ONCE)
    @Test(groups = Level.REQUIRED_GROUP)
    public void X86_REGISTER_ONCE_updatesContinueAcrossManyRunsWithoutAnotherWrmsr() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(0);
        int rounds = 40;
        Duration p = timing().scaled(Duration.ofMillis(1));
        Evidence.step("configure: register " + hex(gpa | ENABLE) + " once", () -> {
            vm.zeroStructure(gpa);
            cpu.enable(gpa);
        });
        Snapshot first = cpu.settle(gpa, "after registering");
        StringBuilder seq = new StringBuilder("round  version     steal\n");
        seq.append(String.format("%5d  %-10s  %,d%n", 0, KvmStealTime.version(version(first)), StealTimeRecordAssert.steal(first)));
        try {
            Snapshot previous = first;
            for (int i = 1; i <= rounds; i++) {
                int round = i;
                cpu.preempt(p);
                Snapshot now = cpu.runUntilUpdated(gpa, previous, "after preempt+run #" + round);
                seq.append(String.format("%5d  %-10s  %,d%n", round, KvmStealTime.version(version(now)), StealTimeRecordAssert.steal(now)));
                assertThatRecord(now).wasUpdatedSince(previous, "round " + round + " of " + rounds
                        + " (preempt " + ms(p) + ", then runs) without another WRMSR must bring an update within the update bound");
                previous = now;
            }
            assertThatRecord(previous).hasStealAbove(first, rounds + " preemptions after one registration");
        } finally {
            Evidence.text("versions and steal across " + rounds + " rounds", seq.toString());
        }
    }

    /** Disable values (bit 0 clear) with different addresses, written by the guest or the VMM. */
    @DataProvider
    public Object[][] disableValues() {
        String[] kinds = {"the registered address, bit 0 clear", "zero", "another address in RAM, bit 0 clear",
                "an address outside RAM, bit 0 clear", "the top of the address space, bit 0 clear"};
        List<Object[]> cases = new ArrayList<>();
        for (String kind : kinds) {
            for (Path path : Path.values()) {
                cases.add(new Object[]{kind, path});
            }
        }
        return cases.toArray(Object[][]::new);
    }

    private static long disableValue(String kind, long registered, long other) {
        return switch (kind) {
            case "the registered address, bit 0 clear" -> registered;
            case "zero" -> 0L;
            case "another address in RAM, bit 0 clear" -> other;
            case "an address outside RAM, bit 0 clear" -> GuestLayout.BEYOND_RAM;
            case "the top of the address space, bit 0 clear" -> 0xFFFF_FFFF_FFFF_FFC0L;
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @TckRule(RuleIds.X86_DISABLE)
    @Test(groups = Level.REQUIRED_GROUP, dataProvider = "disableValues")
    public void X86_DISABLE_afterBit0ClearTheStructureIsNeverWrittenAgain(String kind, Path path) {
        Evidence.parameter("disable value", kind);
        Evidence.parameter("path", path);
        require(path);
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        long registered = layout().slot(7);
        long other = layout().slot(9);
        long value = disableValue(kind, registered, other);
        Duration p = preemption(Duration.ofMillis(2));

        GuardBytes otherPage = Evidence.step("configure: register " + hex(registered | ENABLE) + ", run; canaries at " + hex(other), () -> {
            vm.zeroStructure(registered);
            GuardBytes g = GuardBytes.plant(vm.memory(), other, 0x1000);
            cpu.enable(registered);
            cpu.preemptThenRun(p);
            return g;
        });
        boolean outsideRam = kind.equals("an address outside RAM, bit 0 clear") || kind.equals("the top of the address space, bit 0 clear");
        boolean accepted = Evidence.step("configure: " + path + " " + hex(value) + " (" + kind + ")", () -> path.write(cpu, value));
        if (!accepted && outsideRam) {
            // seed 000: the address "must be in guest RAM"; a hypervisor may refuse any value whose
            // address is not (Linux before v5.6 did, disable values included): nothing was written,
            // so there is nothing to disable here. Linux today accepts it (X86-RDMSR-READBACK, linux-abi).
            Evidence.text("rejected", path + " " + hex(value) + " was rejected: legal for an address outside guest RAM");
            return;
        }
        assertThat(accepted).as("%s %s, a disable value, was rejected: the structure cannot be disabled", path, hex(value)).isTrue();
        Snapshot disabled = cpu.snapshot(registered, "right after disabling");
        // two passes: the canaries on the other page are complemented in between, so a write of any value shows
        for (int pass = 1; pass <= 2; pass++) {
            int n = pass;
            Evidence.step("run (pass " + n + " of 2): preempt/run, idle, CPUID", () -> {
                cpu.preemptThenRun(p);
                cpu.idle(preemption(Duration.ofMillis(2)));
                cpu.cpuid(KvmStealTime.CPUID_KVM_FEATURES);
                cpu.preemptThenRun(p);
            });
            Evidence.step("observe: not one byte written since", () -> {
                assertThatRecord(cpu.snapshot(registered, "after preempt/run/idle while disabled"))
                        .wasNotWrittenSince(disabled, "disabled with " + hex(value) + " (" + kind + ") through " + path);
                assertThat(otherPage.checkAndFlip()).as("the page at %s after disabling with %s (canary pass %d of 2)", hex(other), hex(value), n)
                        .isEmpty();
            });
        }
        Evidence.step("until re-enabled: zero " + hex(registered) + ", register " + hex(registered | ENABLE) + " again, preempt then run until updated", () -> {
            vm.zeroStructure(registered);   // before every registration, as the guest must
            Snapshot zeroed = cpu.snapshot(registered, "zeroed before re-enabling");
            cpu.enable(registered);
            cpu.preempt(p);
            assertThatRecord(cpu.runUntilUpdated(registered, zeroed, "after re-enabling and running"))
                    .wasUpdatedSince(zeroed, "re-enabling must resume the updates");
        });
    }

    /** Addresses with no RAM behind them. */
    @DataProvider
    public Object[][] outsideRam() {
        return new Object[][]{
                {"in the hole between low and mid RAM", layout().inHole()},
                {"in the hole, another page", layout().lowRegion().end() + 0x20000},
                {"far beyond RAM", GuestLayout.BEYOND_RAM},
                {"far beyond RAM, +0x15000", GuestLayout.BEYOND_RAM + 0x15000},
                {"the top of the address space", 0xFFFF_FFFF_FFFF_FFC0L},
        };
    }

    @TckRule(RuleIds.X86_OUTSIDE_RAM)
    @Test(groups = Level.REQUIRED_GROUP, dataProvider = "outsideRam")
    public void X86_OUTSIDE_RAM_isAcceptedNeverWrittenAndTheVmKeepsWorking(String where, long gpa) {
        Evidence.parameter("address", where + " (" + hex(gpa) + ")");
        if (where.startsWith("in the hole")) {
            require(Capability.MEMORY_HOLES);
        }
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        assertThat(vm.spec().inRam(gpa, SIZE)).as("precondition: %s is outside guest RAM %s", hex(gpa), vm.spec().ram()).isFalse();
        Duration p = preemption(Duration.ofMillis(2));
        // canaries over all TCK-owned guest RAM, in two complementary passes, so a stray write of any value shows
        List<GuardBytes> ram = Evidence.step("configure: canaries over all TCK-owned guest RAM", () -> guardAllRam(vm));
        // seed 000: the address "must be in guest RAM"; Linux accepts it anyway and never writes it,
        // a hypervisor may as well reject it (#GP): either way no byte of RAM may change
        Evidence.step("run: guest WRMSR " + hex(gpa | ENABLE) + " (accepted or rejected), preempt/run, idle", () -> {
            boolean accepted = !cpu.guestWrmsr(gpa | ENABLE).faulted();
            Evidence.parameter("WRMSR of the address outside RAM", accepted ? "accepted" : "rejected (#GP)");
            cpu.preemptThenRun(p);
            cpu.idle(preemption(Duration.ofMillis(2)));
            cpu.preemptThenRun(p);
        });
        Evidence.step("observe: no byte of guest RAM changed (canary pass 1 of 2)", () ->
                assertThat(checkAndFlip(ram)).as("guest RAM after registering %s (%s) and running", hex(gpa | ENABLE), where).isEmpty());
        Evidence.step("run again with the canaries complemented: preempt/run, idle", () -> {
            cpu.preemptThenRun(p);
            cpu.idle(preemption(Duration.ofMillis(2)));
            cpu.preemptThenRun(p);
        });
        Evidence.step("observe: no byte of guest RAM changed (canary pass 2 of 2)", () ->
                assertThat(checkAndFlip(ram)).as("guest RAM after registering %s (%s) and running, canaries complemented",
                        hex(gpa | ENABLE), where).isEmpty());
        Evidence.step("the VM keeps working: register a structure in RAM, preempt, run", () -> {
            long good = layout().slot(3);
            vm.zeroStructure(good);
            Snapshot zeroed = cpu.snapshot(good, "zeroed");
            cpu.enable(good);
            cpu.preempt(p);
            assertThatRecord(cpu.runUntilUpdated(good, zeroed, "after registering it and running"))
                    .wasUpdatedSince(zeroed, "after an out-of-RAM registration the VM must keep working");
        });
    }

    /** Canaries over every RAM region from the end of the provider's reserved bytes on. */
    private List<GuardBytes> guardAllRam(StealTimeVm vm) {
        List<GuardBytes> guards = new ArrayList<>();
        for (MemoryRegion r : vm.spec().ram()) {
            long from = Math.max(r.gpa(), layout().providerReservedEnd());
            if (from < r.end()) {
                guards.add(GuardBytes.plant(vm.memory(), from, (int) (r.end() - from)));
            }
        }
        return guards;
    }

    private static String checkAndFlip(List<GuardBytes> guards) {
        StringBuilder sb = new StringBuilder();
        for (GuardBytes g : guards) {
            sb.append(g.checkAndFlip());
        }
        return sb.toString();
    }
}
